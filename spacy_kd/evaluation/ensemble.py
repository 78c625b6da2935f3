"""The annotate run in the report: its teachers' calibration on the test set and the
accuracy of their ensemble.

``annotate --weights-from-dev`` stores in its output folder's summary.json each
teacher's temperature (fitted on dev), the dev ECE before and after it, and the
weights of the teachers' mix; manifest.json the label order of the temperatures.
From the teachers' scores that the report's evaluation kept, this module measures
each teacher's ECE on the test set before and after its temperature, and scores the
ensemble the students learn from: the calibrated probabilities mixed by the stored
weights (argmax, or >= 0.5 per label for multi-label). Its teachers' probabilities
on dev come from the run's dev_scores.json where they were computed there from the
same teachers and dev data (``stored_dev_results``).
"""

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

import numpy

from spacy_kd.annotate.calibration import N_BINS, expected_calibration_error
from spacy_kd.annotate.manifest import DEV_SCORES, MANIFEST, SUMMARY
from spacy_kd.annotate.weights import calibrated, stored_dev_scores
from spacy_kd.errors import DataError
from spacy_kd.evaluation.gold import GoldSet
from spacy_kd.evaluation.metrics import AccuracyScores, agreement, decisions, score_cats
from spacy_kd.evaluation.report import PipelineResult, md_table
from spacy_kd.util import content_sha256

PathLike = Union[str, Path]
ENSEMBLE = "ensemble (teachers combined)"


@dataclass
class AnnotateRun:
    """What a report needs of an annotate output folder.

    temperatures: a teacher's fitted temperature (a float, or one per label in
    ``labels`` order for multi-label); teachers without one were not calibrated.
    """

    folder: Path
    teachers: List[str]
    weights: List[float]
    temperatures: Dict[str, Any] = field(default_factory=dict)
    ece_dev_before: Dict[str, float] = field(default_factory=dict)
    ece_dev_after: Dict[str, float] = field(default_factory=dict)
    labels: Optional[List[str]] = None
    multi_label: Optional[bool] = None


def read_annotate_run(folder: PathLike) -> Optional[AnnotateRun]:
    """The annotate run in ``folder`` (None where it holds no summary.json)."""
    folder = Path(folder)
    path = folder / SUMMARY
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
        teachers = [str(t) for t in summary["teachers"]]
        weights = [float(w) for w in summary["weights"]]
        calibration = summary.get("calibration") or {}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(path, f"not an annotate summary: {e!r}") from None
    if len(teachers) != len(weights) or not teachers:
        raise DataError(path, f"{len(weights)} weights for {len(teachers)} teachers")
    run = AnnotateRun(
        folder=folder,
        teachers=teachers,
        weights=weights,
        temperatures=dict(calibration.get("temperatures") or {}),
        ece_dev_before=dict(calibration.get("ece_dev_before") or {}),
        ece_dev_after=dict(calibration.get("ece_dev_after") or {}),
    )
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        run.labels = [str(x) for x in manifest["labels"]]
        run.multi_label = bool(manifest["multi_label"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # the teachers' own label order is used
    return run


def run_labels(run: AnnotateRun, results: Mapping[str, PipelineResult]) -> List[str]:
    if run.labels is not None:
        return run.labels
    first = next(n for n in run.teachers if n in results)
    return list(results[first].labels)


def run_multi_label(run: AnnotateRun, results: Mapping[str, PipelineResult]) -> bool:
    if run.multi_label is not None:
        return run.multi_label
    return next(results[n].multi_label for n in run.teachers if n in results)


def kept_scores(result: PipelineResult, labels: List[str], key: Optional[str]) -> Any:
    """A teacher's kept scores on the test set (key None) or an extra set, in
    ``labels`` order; None where they were not kept."""
    scores = result.scores if key is None else result.extra_scores.get(key)
    if scores is None:
        return None
    if set(result.labels) != set(labels):
        raise DataError(
            result.path,
            f"the labels of {result.name} are not those of the annotate run "
            f"(only in the run: {sorted(set(labels) - set(result.labels))})",
        )
    order = [result.labels.index(label) for label in labels]
    return numpy.asarray(scores, dtype="float64")[:, order]


def stored_dev_results(
    run: AnnotateRun, results: Mapping[str, PipelineResult], dev: GoldSet
) -> Optional[Dict[str, PipelineResult]]:
    """The run's teachers' results on ``dev`` from the probabilities annotate kept
    when it fitted on dev (dev_scores.json): only where they were computed from the
    same dev file and the same teacher folders (by content) as ``results`` hold, and
    match ``dev`` in size; else None (the report then runs the teachers on dev).
    Each result is the teacher's test result with its dev scores and accuracy."""
    stored = stored_dev_scores(run.folder)
    if stored is None:
        return None
    key, labels, scores = stored
    try:
        dev_sha = key["dev"][1]
        teacher_sha = {str(name): sha for name, sha in key["teachers"]}
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if set(teacher_sha) != set(run.teachers) or any(
        n not in results or n not in scores for n in run.teachers
    ):
        return None
    if dev_sha != content_sha256(dev.path):
        return None
    out: Dict[str, PipelineResult] = {}
    for name in run.teachers:
        result = results[name]
        if content_sha256(result.path) != teacher_sha[name]:
            return None
        p = numpy.asarray(scores[name], dtype="float64")
        if p.shape != (len(dev.cats), len(labels)) or set(labels) != set(result.labels):
            return None
        multi = result.multi_label
        out[name] = dataclasses.replace(
            result,
            labels=list(labels),
            accuracy=score_cats(dev.cats, p, labels, multi_label=multi),
            thresholds=None,
            threshold_source="threshold 0.5" if multi else "argmax",
            agreement=None,
            speed=None,
            extra_accuracy={},
            accuracy_global=None,
            scores=p,
            extra_scores={},
            note=f"its probabilities on dev from {run.folder / DEV_SCORES}",
        )
    return out


def gold_01(gold: GoldSet, labels: List[str]) -> numpy.ndarray:
    """The gold values as a (n_docs, n_labels) matrix, a missing label 0 (as
    annotate's dev fit reads them)."""
    return numpy.asarray(
        [[float(cats.get(label, 0.0)) for label in labels] for cats in gold.cats]
    ).reshape(len(gold), len(labels))


def teacher_calibration(
    run: AnnotateRun, results: Mapping[str, PipelineResult], gold: GoldSet
) -> Dict[str, Dict[str, Any]]:
    """Per teacher of the run that was evaluated: its temperature, the dev ECE
    before and after it (as stored) and the test ECE before and after it."""
    present = [n for n in run.teachers if n in results]
    if not present:
        return {}
    labels, multi = run_labels(run, results), run_multi_label(run, results)
    y = gold_01(gold, labels)
    out: Dict[str, Dict[str, Any]] = {}
    for name in present:
        p = kept_scores(results[name], labels, None)
        temperature = run.temperatures.get(name)
        row: Dict[str, Any] = {
            "temperature": temperature,
            "ece_dev_before": run.ece_dev_before.get(name),
            "ece_dev_after": run.ece_dev_after.get(name),
            "ece_test_before": None,
            "ece_test_after": None,
        }
        if p is not None:
            row["ece_test_before"] = expected_calibration_error(p, y, multi)
            if temperature is not None:
                after = calibrated(p, temperature, multi)
                row["ece_test_after"] = expected_calibration_error(after, y, multi)
        out[name] = row
    return out


def ensemble_scores(
    run: AnnotateRun, results: Mapping[str, PipelineResult], key: Optional[str] = None
) -> Optional[numpy.ndarray]:
    """The run's mix of its teachers' calibrated scores on the test set (key None)
    or an extra set, in the run's label order; None unless every teacher of the
    run was evaluated there with its scores kept."""
    if not all(n in results for n in run.teachers):
        return None
    labels, multi = run_labels(run, results), run_multi_label(run, results)
    total = sum(run.weights)
    mixed = None
    for name, weight in zip(run.teachers, run.weights):
        p = kept_scores(results[name], labels, key)
        if p is None:
            return None
        part = (weight / total) * calibrated(p, run.temperatures.get(name), multi)
        mixed = part if mixed is None else mixed + part
    return mixed


def ensemble_accuracy(
    run: AnnotateRun,
    results: Mapping[str, PipelineResult],
    gold: GoldSet,
    key: Optional[str] = None,
) -> Optional[AccuracyScores]:
    """The ensemble's accuracy on ``gold`` (the set ``key`` names; None: the test
    set), or None where its teachers' scores there are not at hand."""
    mixed = ensemble_scores(run, results, key)
    if mixed is None:
        return None
    labels, multi = run_labels(run, results), run_multi_label(run, results)
    return score_cats(gold.cats, mixed, labels, multi_label=multi)


def ensemble_result(
    run: AnnotateRun,
    results: Mapping[str, PipelineResult],
    gold: GoldSet,
    extra: Mapping[str, GoldSet],
    reference: Optional[PipelineResult] = None,
) -> Optional[PipelineResult]:
    """The ensemble as a report row: accuracy on the test set and each extra set,
    agreement with ``reference``; no speed (it costs the sum of its teachers)."""
    mixed = ensemble_scores(run, results)
    if mixed is None:
        return None
    mix = ", ".join(
        f"{n} {w / sum(run.weights):.3g}" for n, w in zip(run.teachers, run.weights)
    )
    kind = "calibrated " if run.temperatures else ""
    extra_scores = {key: ensemble_scores(run, results, key) for key in extra}
    return scores_row(
        ENSEMBLE,
        str(run.folder),
        run_labels(run, results),
        run_multi_label(run, results),
        mixed,
        {k: v for k, v in extra_scores.items() if v is not None},
        gold,
        extra,
        reference,
        role="ensemble",
        note=(
            f"the teachers' {kind}probabilities mixed by the weights of the "
            f"annotate run in `{run.folder}` ({mix}); no speed row: it costs the sum "
            "of its teachers"
        ),
    )


def scores_row(
    name: str,
    path: str,
    labels: List[str],
    multi: bool,
    scores: numpy.ndarray,
    extra_scores: Mapping[str, numpy.ndarray],
    gold: GoldSet,
    extra: Mapping[str, GoldSet],
    reference: Optional[PipelineResult],
    *,
    role: str,
    note: str,
) -> PipelineResult:
    """A report row for scores computed here rather than by a pipeline (the
    ensemble, a corrected teacher): accuracy on the test set (``scores``, in
    ``labels`` order) and on each extra set it has scores for, agreement with
    ``reference``; argmax, or 0.5 per label for multi-label; no speed."""
    row = PipelineResult(
        name=name,
        path=path,
        component="-",
        factory="-",
        multi_label=multi,
        labels=labels,
        accuracy=score_cats(gold.cats, scores, labels, multi_label=multi),
        threshold_source="threshold 0.5" if multi else "argmax",
        disk_mib=None,
        role=role,
        note=note,
    )
    for key, other in extra.items():
        if extra_scores.get(key) is not None:
            row.extra_accuracy[key] = score_cats(
                other.cats, extra_scores[key], labels, multi_label=multi
            )
    if reference is not None and reference.scores is not None:
        ref = kept_scores(reference, labels, None)
        thresholds = reference.thresholds or {}
        cut = [thresholds.get(label, 0.5) for label in labels] if thresholds else None
        row.agreement = agreement(
            decisions(scores, multi),
            decisions(
                ref, reference.multi_label, None if cut is None else numpy.array(cut)
            ),
            scores,
            ref,
            reference=reference.name,
        )
    return row


def calibration_markdown(info: Dict[str, Any]) -> List[str]:
    """The report's section on the teachers' calibration and their ensemble."""
    lines = ["", "## Teachers' calibration and their ensemble", ""]
    if not info.get("found"):
        return lines + [
            f"No annotate run in `{info['annotate_run']}` (no {SUMMARY}): no "
            "calibration or ensemble to report.",
            "",
        ]
    weights = ", ".join(f"{n} {w:.3g}" for n, w in info["weights"].items())
    lines += [f"The annotate run in `{info['annotate_run']}`; weights: {weights}.", ""]
    rows = [
        [
            name,
            _temperature(row["temperature"]),
            *(
                num_cell(row[k])
                for k in (
                    "ece_dev_before",
                    "ece_dev_after",
                    "ece_test_before",
                    "ece_test_after",
                )
            ),
        ]
        for name, row in info["teachers"].items()
    ]
    if rows:
        header = ["teacher", "temperature", "ECE dev before", "ECE dev after",
                  "ECE test before", "ECE test after"]  # fmt: skip
        lines += md_table(header, rows) + [""]
    ens = info.get("ensemble") or {}
    scores = [("dev", ens.get("dev_macro_f")), ("test", ens.get("test_macro_f"))]
    scores += list((ens.get("extra_macro_f") or {}).items())
    shown = ", ".join(f"{k} {num_cell(v)}" for k, v in scores)
    lines += [
        f"- *{ENSEMBLE}*: macro-F1 {shown}"
        + (f" (dev: `{ens['dev_data']}`)." if ens.get("dev_data") else "."),
        f"- ECE: expected calibration error over {N_BINS} equal-width bins of the "
        "top class's probability (multi-label: of every label's); *dev* as the "
        "annotate run stored it, *test* measured here, before and after the "
        "teacher's temperature.",
        "",
    ]
    return lines


def num_cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4f}"


def _temperature(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return f"{min(value):.3g} to {max(value):.3g} (per label)"
    return f"{float(value):.3f}"
