"""``report_training``: the project's report on every model of a training folder.

It evaluates, on the test data and on every extra test set, whichever models
TRAINING holds (see :func:`spacy_kd.evaluation.targets.find_models`); stock,
baselines and students, and a tokenizer-only pipeline (``spacy.blank``), have their
speed and memory measured where torch, transformers and spacy-transformers cannot be
imported, the teachers as they need. From the annotate run (TRAINING/pseudo) it adds
each teacher's calibration on the test set and the row of the teachers' ensemble.
It writes TRAINING/report.json, .md and .png; report.md ends with the calibration
and the talk's targets.
"""

import dataclasses
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from spacy_kd.errors import DataError
from spacy_kd.evaluation.ensemble import (
    ENSEMBLE,
    AnnotateRun,
    calibration_markdown,
    ensemble_accuracy,
    ensemble_result,
    read_annotate_run,
    stored_dev_results,
    teacher_calibration,
)
from spacy_kd.evaluation.extra_sets import load_extra_sets
from spacy_kd.evaluation.gold import GoldSet, load_gold
from spacy_kd.evaluation.output import check_report_outputs, write_report
from spacy_kd.evaluation.plot import require_matplotlib
from spacy_kd.evaluation.report import EvaluationReport, PipelineResult
from spacy_kd.evaluation.runner import evaluate
from spacy_kd.evaluation.targets import (
    TrainedModels,
    find_models,
    targets_data,
    targets_section,
)
from spacy_kd.evaluation.teacher_prior import teacher_prior_markdown, teacher_prior_rows
from spacy_kd.util import atomic_open, content_sha256

PathLike = Union[str, Path]
# where report_training looks by default, under the training folder
PSEUDO_DIR = "pseudo"
DEV_DATA = Path("split") / "dev.spacy"
LABELLED_DATA = Path("split") / "labelled.spacy"


def report_training(
    training_dir: PathLike,
    data: PathLike,
    *,
    sample: int = 0,
    seed: int = 0,
    reference: Optional[str] = None,
    speed_targets: Optional[Mapping[str, float]] = None,
    n_threads: int = 1,
    n_speed_docs: int = 500,
    batch_size: int = 128,
    progress: Optional[Callable[[str], None]] = None,
    extra_tests: Optional[Mapping[str, PathLike]] = None,
    label_maps: Optional[Mapping[str, PathLike]] = None,
    pseudo: Optional[PathLike] = None,
    dev: Optional[PathLike] = None,
    labelled: Optional[PathLike] = None,
) -> Tuple[EvaluationReport, str]:
    """Evaluate every model of ``training_dir`` on ``data`` (and the extra sets);
    write report.json, .md (with the calibration and targets sections) and .png
    there. Returns the report and the targets section.

    reference: a model's name; every model's agreement with it is reported.
    extra_tests: more test sets by name (e.g. other domains), each scored by every
        model; label_maps: for such a name, a JSON label map to the models' labels
        (see :mod:`spacy_kd.evaluation.extra_sets`).
    pseudo: the annotate run's folder (default TRAINING/pseudo); without one there
        is no calibration or ensemble.
    dev: labelled dev data to score the ensemble on (default
        TRAINING/split/dev.spacy where it exists); its teachers run over it once.
        Multi-label data: every model's per-label thresholds are tuned on it, and
        the report sets them against the one global threshold.
    labelled: the gold training docs (default TRAINING/split/labelled.spacy where
        it exists); with an exclusive annotate run, each teacher is also scored
        with the label-prior correction the students get, fitted to these docs'
        label shares (see :mod:`spacy_kd.evaluation.teacher_prior`).
    """
    say = progress or (lambda line: None)
    require_matplotlib()
    out = Path(training_dir)
    models = find_models(out)
    found = models.all()
    if not found:
        raise DataError(out, "no trained models to report on")
    paths = {"json": out / "report.json", "md": out / "report.md"}
    check_report_outputs(
        json_path=paths["json"],
        markdown_path=paths["md"],
        plot_path=out / "report.png",
        inputs=[data, *(extra_tests or {}).values(), dev],
    )
    # everything that can be refused is read before the (long) evaluation
    gold = load_gold(data, sample=sample, seed=seed)
    extra = load_extra_sets(
        extra_tests or {}, label_maps or {}, [path for _, path in found],
        sample=sample, seed=seed,
    )  # fmt: skip
    pseudo_dir = Path(pseudo) if pseudo is not None else out / PSEUDO_DIR
    run = read_annotate_run(pseudo_dir)
    if pseudo is not None and run is None:
        raise DataError(pseudo_dir, "no annotate run here (no summary.json)")
    dev_path = Path(dev) if dev is not None else out / DEV_DATA
    dev_gold = None
    if run is not None and (dev is not None or dev_path.exists()):
        dev_gold = load_gold(dev_path)
    labelled_gold = None
    gold_path = Path(labelled) if labelled is not None else out / LABELLED_DATA
    if run is not None and (labelled is not None or gold_path.exists()):
        labelled_gold = load_gold(gold_path)
    copies = _copies(found, models)
    measured = [(name, path) for name, path in found if name not in copies]
    report = evaluate(
        [path for _, path in measured],
        gold,
        names=[name for name, _ in measured],
        reference=reference,
        sample=sample,
        seed=seed,
        batch_size=batch_size,
        n_speed_docs=n_speed_docs,
        n_threads=n_threads,
        progress=progress,
        extra_data=extra,
        keep_scores=True,
        torch_free=[
            name
            for name in (*models.references, *models.baselines, *models.students)
            if name not in copies
        ],
        tokenizer_only=True,
        # multi-label: per-label thresholds tuned on dev, against the global one
        tune_thresholds_on=dev_path if gold.multi_label and dev_path.exists() else None,
    )
    _add_copies(report, found, copies)
    for name, _ in found:
        report[name].role = _role(name, models)
    calibration, dev_results = _calibration(
        run, pseudo_dir, report, models, gold, extra, dev_gold, batch_size, say
    )
    corrected: Dict[str, Any] = {}
    if run is not None and labelled_gold is not None:
        say(f"Fitting the teachers' label prior on {run.folder}")
        corrected = _teacher_prior(
            run, report, models, gold, extra, labelled_gold, dev_gold, dev_results
        )
    ensemble = ENSEMBLE if any(p.role == "ensemble" for p in report.pipelines) else None
    section = targets_section(
        report, models, speed_targets, ensemble=ensemble,
        corrected={n: e["row"] for n, e in corrected.items()},
    )  # fmt: skip
    markdown = (
        report.to_markdown()
        + "\n".join(
            calibration_markdown(calibration) + teacher_prior_markdown(corrected)
        )
        + section
    )
    full = report.to_dict()
    full["calibration"] = calibration
    full["teacher_label_prior"] = corrected
    full["targets"] = targets_data(report, models, ensemble, speed_targets)
    write_report(report, plot_path=out / "report.png", plot_metric="macro_f")
    with atomic_open(paths["json"]) as f:
        # stdlib json: srsly's ujson rounds floats to 10 digits
        f.write(json.dumps(full, indent=2) + "\n")
    with atomic_open(paths["md"]) as f:
        f.write(markdown)
    return report, section


def _copies(found: List[Tuple[str, Path]], models: TrainedModels) -> Dict[str, str]:
    """The students that ``students`` copied from another one listed here (its
    ``copied_from``), whose model-best is still byte for byte that one's: each is
    reported with its original's numbers instead of being run again."""
    paths = dict(found)
    copies = {}
    for name, source in models.copied_from.items():
        if name in paths and source in paths and source not in models.copied_from:
            if content_sha256(paths[name]) == content_sha256(paths[source]):
                copies[name] = source
    return copies


def _add_copies(
    report: EvaluationReport, found: List[Tuple[str, Path]], copies: Dict[str, str]
) -> None:
    """Each copy's row: its original's result under its own name, in ``found``'s
    order."""
    by_name = {p.name: p for p in report.pipelines}
    for name, source in copies.items():
        by_name[name] = dataclasses.replace(
            by_name[source],
            name=name,
            path=str(dict(found)[name]),
            is_reference=False,
            note=(
                f"a byte-identical copy of {source} (students.json: copied_from; "
                f"the annotate run's weights are one-hot): {source}'s numbers"
            ),
        )
    report.pipelines = [by_name[name] for name, _ in found]


def _role(name: str, models: TrainedModels) -> str:
    if name in models.references:
        return name
    if name in models.baselines:
        return "baseline"
    return "teacher" if name in models.teachers else "student"


def _calibration(
    run: Optional[AnnotateRun],
    pseudo_dir: Path,
    report: EvaluationReport,
    models: TrainedModels,
    gold: GoldSet,
    extra: Mapping[str, GoldSet],
    dev_gold: Optional[GoldSet],
    batch_size: int,
    say: Callable[[str], None],
) -> Tuple[Dict[str, Any], Optional[Dict[str, PipelineResult]]]:
    """The calibration section's numbers; adds the ensemble's row to ``report``
    (after the teachers) where every teacher of the run was evaluated. Also returns
    the teachers' results on dev (scores kept) where they were scored there."""
    if run is None:
        return {"annotate_run": str(pseudo_dir), "found": False}, None
    results = {p.name: p for p in report.pipelines if p.name in models.teachers}
    info: Dict[str, Any] = {
        "annotate_run": str(run.folder),
        "found": True,
        "weights": dict(zip(run.teachers, run.weights)),
        "teachers": teacher_calibration(run, results, gold),
        "ensemble": None,
    }
    missing = [n for n in run.teachers if n not in results]
    if missing:
        report.warnings.append(
            f"the annotate run in {run.folder} used teachers not evaluated here "
            f"({', '.join(missing)}): no ensemble row"
        )
        return info, None
    reference = report[report.reference] if report.reference else None
    row = ensemble_result(run, results, gold, extra, reference)
    if row is None:
        return info, None
    last = max(i for i, p in enumerate(report.pipelines) if p.name in results)
    report.pipelines.insert(last + 1, row)
    ens: Dict[str, Any] = {
        "name": ENSEMBLE,
        "test_macro_f": row.accuracy.macro_f,
        "extra_macro_f": {k: v.macro_f for k, v in row.extra_accuracy.items()},
        "dev_macro_f": None,
        "dev_data": None,
    }
    dev_results = None
    if dev_gold is not None:
        dev_results = stored_dev_results(run, results, dev_gold)
        if dev_results is not None:
            say(
                f"The ensemble's teachers on the dev data {dev_gold.path}: their "
                f"probabilities from the annotate run in {run.folder}"
            )
        else:
            say(f"Scoring the ensemble's teachers on the dev data {dev_gold.path}")
            on_dev = evaluate(
                [results[n].path for n in run.teachers], dev_gold,
                names=run.teachers, measure_speed=False, keep_scores=True,
                batch_size=batch_size,
            )  # fmt: skip
            dev_results = {p.name: p for p in on_dev.pipelines}
        scores = ensemble_accuracy(run, dev_results, dev_gold)
        ens["dev_macro_f"] = None if scores is None else scores.macro_f
        ens["dev_data"] = dev_gold.path
    info["ensemble"] = ens
    return info, dev_results


def _teacher_prior(
    run: AnnotateRun,
    report: EvaluationReport,
    models: TrainedModels,
    gold: GoldSet,
    extra: Mapping[str, GoldSet],
    labelled: GoldSet,
    dev_gold: Optional[GoldSet],
    dev_results: Optional[Dict[str, PipelineResult]],
) -> Dict[str, Any]:
    """Adds each exclusive teacher's row with the label prior (after the teachers
    and the ensemble); returns their numbers."""
    results = {p.name: p for p in report.pipelines if p.name in models.teachers}
    reference = report[report.reference] if report.reference else None
    on_dev = None
    if dev_gold is not None and dev_results is not None:
        on_dev = (dev_gold, dev_results)
    rows, info = teacher_prior_rows(
        run, results, gold, extra, labelled, reference, on_dev
    )
    if rows:
        last = max(
            i
            for i, p in enumerate(report.pipelines)
            if p.name in results or p.role == "ensemble"
        )
        report.pipelines[last + 1 : last + 1] = rows
    return info
