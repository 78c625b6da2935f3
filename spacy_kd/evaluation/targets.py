"""The project's report: every model a training folder holds, and the talk's targets.

``report_training(TRAINING, data)`` evaluates, on the test data, whichever models
TRAINING holds: stock (spaCy's stock textcat, gold only), each student
architecture's gold-only baseline and every student (TRAINING/students/students.json),
every teacher (TRAINING/teacher_*/model-best). It writes TRAINING/report.json, .md
and .png, then appends to report.md how the targets fare: the best student (chosen
on dev) against the best teacher, its own architecture's baseline (+0.03) and stock
textcat; each architecture's gain over its baseline; student throughput against each
teacher's (with a factor to reach where one is given, e.g. 25x ELMo, 50x BERT);
student peak memory against stock textcat's (1.2x).
Numbers only: nothing here passes or fails.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

from spacy_kd.errors import DataError
from spacy_kd.evaluation.output import write_report
from spacy_kd.evaluation.plot import require_matplotlib
from spacy_kd.evaluation.report import EvaluationReport, md_table
from spacy_kd.evaluation.runner import evaluate
from spacy_kd.util import atomic_open

PathLike = Union[str, Path]
REFERENCES = ("stock", "baseline")
MEMORY_FACTOR = 1.2
BASELINE_GAIN = 0.03


@dataclass
class TrainedModels:
    """The models of a training folder, by role; each maps a name to a model-best."""

    references: Dict[str, Path] = field(default_factory=dict)
    baselines: Dict[str, Path] = field(default_factory=dict)
    teachers: Dict[str, Path] = field(default_factory=dict)
    students: Dict[str, Path] = field(default_factory=dict)
    # a student's or baseline's architecture, and a student's own baseline
    arch: Dict[str, str] = field(default_factory=dict)
    baseline_of: Dict[str, str] = field(default_factory=dict)

    def all(self) -> List[Tuple[str, Path]]:
        return [
            *self.references.items(),
            *self.baselines.items(),
            *self.teachers.items(),
            *self.students.items(),
        ]


def find_models(training_dir: PathLike) -> TrainedModels:
    """Every trained model under ``training_dir``: stock and baseline if present,
    every teacher_*/model-best, and the students in students/students.json (their
    paths as written there: relative to the folder the students were trained from).
    """
    out = Path(training_dir)
    found = TrainedModels()
    for name in REFERENCES:
        if (out / name / "model-best" / "meta.json").exists():
            found.references[name] = out / name / "model-best"
    for model in sorted(out.glob("teacher_*/model-best/meta.json")):
        found.teachers[model.parent.parent.name] = model.parent
    listing = out / "students" / "students.json"
    if listing.exists():
        for entry in json.loads(listing.read_text(encoding="utf-8")):
            name = entry["name"]
            role = entry.get("role", "student")
            (found.baselines if role == "baseline" else found.students)[name] = Path(
                entry["path"]
            )
            if entry.get("arch"):
                found.arch[name] = entry["arch"]
            if entry.get("baseline"):
                found.baseline_of[name] = entry["baseline"]
    return found


def dev_macro_f(model: Path) -> Optional[float]:
    """The dev macro-F1 `spacy train` recorded for a model-best, or None."""
    try:
        meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
        return float(meta["performance"]["cats_macro_f"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def targets_section(
    report: EvaluationReport,
    models: TrainedModels,
    speed_targets: Optional[Mapping[str, float]] = None,
) -> str:
    """The markdown section on the talk's targets.

    speed_targets: for a teacher's name, how many times its docs/s the best student
    should reach (teachers without one get the ratio alone).
    """
    factors = dict(speed_targets or {})
    f1 = {p.name: p.accuracy.macro_f for p in report.pipelines}
    speed = {p.name: p.speed for p in report.pipelines}
    students = [n for n in models.students if n in f1]
    teachers = [n for n in models.teachers if n in f1]
    lines = ["", "## The talk's targets", ""]
    if not students:
        return "\n".join(lines + ["No students were evaluated.", ""])
    # the best student is chosen on dev (model-best's score in meta.json), not on test
    dev = {n: dev_macro_f(Path(report[n].path)) for n in students}
    scores: Mapping[str, Optional[float]] = f1
    chosen_on = "test"
    if all(v is not None for v in dev.values()):
        scores, chosen_on = dev, "dev"
    best = max(students, key=lambda n: scores[n] or 0.0)
    lines += [
        f"Best student (chosen by {chosen_on} macro-F1): **{best}**, "
        f"test macro-F1 {f1[best]:.4f}.",
        "",
    ]
    rows: List[List[str]] = []

    def row(what: str, value: str, ok: Optional[bool]) -> None:
        rows.append([what, value, "-" if ok is None else "yes" if ok else "**no**"])

    def vs(a: float, b: float) -> str:
        return f"{a:.4f} vs {b:.4f} ({a - b:+.4f})"

    if teachers:
        top = max(teachers, key=f1.__getitem__)
        row(
            f"best student >= best teacher ({top})",
            vs(f1[best], f1[top]),
            f1[best] >= f1[top],
        )
    own = models.baseline_of.get(best)
    if own in f1:
        row(
            f"best student >= its baseline ({own}) + {BASELINE_GAIN:g}",
            vs(f1[best], f1[own]),
            f1[best] >= f1[own] + BASELINE_GAIN,
        )
    for ref in ("baseline", "stock"):
        if ref in f1:
            row(f"best student > {ref}", vs(f1[best], f1[ref]), f1[best] > f1[ref])
    student_speed = speed[best]
    for teacher in teachers:
        teacher_speed = speed[teacher]
        if student_speed is None or teacher_speed is None:
            continue
        s, t = student_speed.docs_per_s, teacher_speed.docs_per_s
        factor = factors.get(teacher)
        what = f"student docs/s vs {teacher}"
        if factor is not None:
            what = f"student docs/s >= {factor:g}x {teacher}"
        value = f"{s:,.0f} vs {t:,.1f} docs/s = {s / t:,.1f}x"
        row(what, value, None if factor is None else s >= factor * t)
    memory_ref = next((r for r in ("stock", own, "baseline") if r in speed), None)
    ref_speed = speed.get(memory_ref) if memory_ref else None
    if student_speed is not None and ref_speed is not None:
        s, b = student_speed.peak_rss_infer_mib, ref_speed.peak_rss_infer_mib
        row(
            f"student peak memory <= {MEMORY_FACTOR:g}x {memory_ref}",
            f"{s:,.0f} vs {b:,.0f} MiB = {s / b:.2f}x",
            s <= MEMORY_FACTOR * b,
        )
    lines += md_table(["target", "measured", "met"], rows, aligns=["l", "l", "l"])
    lines += ["", *architecture_table(models, f1, scores, chosen_on), ""]
    return "\n".join(lines)


def architecture_table(
    models: TrainedModels,
    f1: Mapping[str, float],
    scores: Mapping[str, Optional[float]],
    chosen_on: str,
) -> List[str]:
    """Per student architecture: its gold-only baseline, its best student (chosen
    on ``chosen_on``) and the gain, all in test macro-F1."""
    archs = sorted({models.arch[n] for n in models.students if n in models.arch})
    rows = []
    for arch in archs:
        names = [n for n in models.students if models.arch.get(n) == arch and n in f1]
        if not names:
            continue
        best = max(names, key=lambda n: scores[n] or 0.0)
        base = models.baseline_of.get(best)
        base_f1 = f1.get(base) if base else None
        rows.append(
            [
                arch,
                "-" if base_f1 is None else f"{base_f1:.4f}",
                best,
                f"{f1[best]:.4f}",
                "-" if base_f1 is None else f"{f1[best] - base_f1:+.4f}",
            ]
        )
    if not rows:
        return []
    header = [
        "architecture",
        "baseline (gold only)",
        f"best student (by {chosen_on})",
        "student",
        "gain",
    ]
    return [
        "### Each architecture against its own baseline",
        "",
        *md_table(header, rows),
    ]


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
) -> Tuple[EvaluationReport, str]:
    """Evaluate every model of ``training_dir`` on ``data``; write report.json, .md
    (with the targets section appended) and .png there. Returns the report and the
    targets section.

    reference: a model's name; every model's agreement with it is reported.
    """
    require_matplotlib()
    out = Path(training_dir)
    models = find_models(out)
    found = models.all()
    if not found:
        raise DataError(out, "no trained models to report on")
    report = evaluate(
        [path for _, path in found],
        data,
        names=[name for name, _ in found],
        reference=reference,
        sample=sample,
        seed=seed,
        batch_size=batch_size,
        n_speed_docs=n_speed_docs,
        n_threads=n_threads,
        progress=progress,
    )
    section = targets_section(report, models, speed_targets)
    markdown = report.to_markdown() + section
    write_report(
        report,
        json_path=out / "report.json",
        plot_path=out / "report.png",
        plot_metric="macro_f",
    )
    with atomic_open(out / "report.md") as f:
        f.write(markdown)
    return report, section
