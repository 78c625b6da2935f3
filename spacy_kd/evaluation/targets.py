"""The models of a training folder, and how the talk's targets fare among them.

``find_models`` finds stock (spaCy's stock textcat, gold only), each student
architecture's gold-only baseline and every student (TRAINING/students/students.json)
and every teacher (TRAINING/teacher_*/model-best). ``targets_section`` says how the
best student (chosen on dev) fares against the best teacher, its own architecture's
baseline (+0.03) and stock textcat; whether every teacher scores at least every
gold-only baseline (a weaker teacher teaches nothing); which share of the best
teacher's gain over that baseline it keeps (>= 0.75), on the test set and on every
extra test set; each architecture's gain over its baseline; student throughput
against each teacher's (with a factor to reach where one is given, e.g. 25x ELMo,
50x BERT) and against the tokenizer alone; student peak memory against stock
textcat's (1.2x).
Numbers only: nothing here passes or fails.
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from spacy_kd.evaluation.report import EvaluationReport, md_table

PathLike = Union[str, Path]
REFERENCES = ("stock", "baseline")
MEMORY_FACTOR = 1.2
MEMORY_REFERENCE = "stock"  # the production model whose peak memory students keep to
BASELINE_GAIN = 0.03
GAIN_KEPT = 0.75


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
    # a student that `students` copied from another instead of training it
    copied_from: Dict[str, str] = field(default_factory=dict)

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
            if entry.get("copied_from"):
                found.copied_from[name] = entry["copied_from"]
    return found


def dev_macro_f(model: Path) -> Optional[float]:
    """The dev macro-F1 `spacy train` recorded for a model-best, or None."""
    try:
        meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
        return float(meta["performance"]["cats_macro_f"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def meets_floor(
    report: EvaluationReport, name: str, speed_targets: Mapping[str, float]
) -> bool:
    """Whether a model's docs/s reaches every ``speed_targets`` factor times that
    teacher's and, where the report measured stock textcat, its peak memory is at
    most ``MEMORY_FACTOR`` times stock's (a model without a speed run, or a
    reference without one, does not count against it)."""
    speed = {p.name: p.speed for p in report.pipelines}
    mine = speed.get(name)
    if mine is None:
        return True
    for teacher, factor in speed_targets.items():
        theirs = speed.get(teacher)
        if theirs is not None and mine.docs_per_s < factor * theirs.docs_per_s:
            return False
    stock = speed.get(MEMORY_REFERENCE)
    if stock is not None:
        return mine.peak_rss_infer_mib <= MEMORY_FACTOR * stock.peak_rss_infer_mib
    return True


def best_student(
    report: EvaluationReport,
    models: TrainedModels,
    speed_targets: Optional[Mapping[str, float]] = None,
) -> Tuple[Optional[str], str, Mapping[str, Optional[float]]]:
    """The best student, chosen on dev (model-best's score in meta.json) where every
    student has one, else on test, among those that meet the throughput floor
    (``speed_targets``: for a teacher, how many times its docs/s) and the memory
    cap (``meets_floor``; when none meets them, among all): its name (None: no
    student evaluated), what it was chosen on, and the scores it was chosen by."""
    f1 = {p.name: p.accuracy.macro_f for p in report.pipelines}
    students = [n for n in models.students if n in f1]
    if not students:
        return None, "test", f1
    dev = {n: dev_macro_f(Path(report[n].path)) for n in students}
    scores: Mapping[str, Optional[float]] = f1
    chosen_on = "test"
    if all(v is not None for v in dev.values()):
        scores, chosen_on = dev, "dev"
    fast = [n for n in students if meets_floor(report, n, speed_targets or {})]
    return max(fast or students, key=lambda n: scores[n] or 0.0), chosen_on, scores


def macro_f1(report: EvaluationReport, test_set: Optional[str]) -> Dict[str, float]:
    """Every row's macro-F1 on the test set (None) or on the extra set named."""
    if test_set is None:
        return {p.name: p.accuracy.macro_f for p in report.pipelines}
    return {
        p.name: p.extra_accuracy[test_set].macro_f
        for p in report.pipelines
        if test_set in p.extra_accuracy
    }


def gain_kept(
    f1: Mapping[str, float], student: str, baseline: str, teacher: str
) -> Dict[str, Any]:
    """The share of the teacher's gain over the baseline that the student keeps:
    (student - baseline) / (teacher - baseline), None where the teacher gains
    nothing."""
    s, b, t = f1[student], f1[baseline], f1[teacher]
    return {
        "student": student,
        "baseline": baseline,
        "teacher": teacher,
        "student_macro_f": s,
        "baseline_macro_f": b,
        "teacher_macro_f": t,
        "kept": (s - b) / (t - b) if t > b else None,
        "target": GAIN_KEPT,
    }


def gains_kept(
    report: EvaluationReport,
    models: TrainedModels,
    ensemble: Optional[str] = None,
    speed_targets: Optional[Mapping[str, float]] = None,
) -> Dict[str, Dict[str, Any]]:
    """Per test set ("test", then each extra set): the gain the best student (chosen
    as for the main table) keeps of the best teacher's on that set over its own
    baseline, and (``ensemble``: that row's name) of the ensemble's."""
    best, _, _ = best_student(report, models, speed_targets)
    own = models.baseline_of.get(best or "")
    out: Dict[str, Dict[str, Any]] = {}
    if best is None or own is None:
        return out
    for key in [None, *report.extra_data]:
        f1 = macro_f1(report, key)
        teachers = [n for n in models.teachers if n in f1]
        if best not in f1 or own not in f1 or not teachers:
            continue
        top = max(teachers, key=f1.__getitem__)
        entry = gain_kept(f1, best, own, top)
        if ensemble is not None and ensemble in f1:
            entry["ensemble"] = gain_kept(f1, best, own, ensemble)
        out["test" if key is None else key] = entry
    return out


def targets_data(
    report: EvaluationReport,
    models: TrainedModels,
    ensemble: Optional[str] = None,
    speed_targets: Optional[Mapping[str, float]] = None,
) -> Dict[str, Any]:
    """The targets' numbers for report.json: the best student, what it was chosen
    on, which students meet the throughput floor, and the gain the best keeps on
    each test set."""
    best, chosen_on, _ = best_student(report, models, speed_targets)
    names = {p.name for p in report.pipelines}
    return {
        "best_student": best,
        "chosen_on": chosen_on,
        "speed_targets": dict(speed_targets or {}),
        "meet_speed_targets": [
            n
            for n in models.students
            if n in names and meets_floor(report, n, speed_targets or {})
        ],
        "baseline": models.baseline_of.get(best or ""),
        "gain_kept": gains_kept(report, models, ensemble, speed_targets),
    }


def targets_section(
    report: EvaluationReport,
    models: TrainedModels,
    speed_targets: Optional[Mapping[str, float]] = None,
    ensemble: Optional[str] = None,
    corrected: Optional[Mapping[str, str]] = None,
) -> str:
    """The markdown section on the talk's targets.

    speed_targets: for a teacher's name, how many times its docs/s the best student
    should reach (teachers without one get the ratio alone).
    ensemble: the name of the teachers' ensemble row, if the report has one.
    corrected: for a teacher's name, its row with the label-prior correction the
    students get; the best of those is set against the best student too (no target:
    the targets compare with the teachers as trained).
    """
    factors = dict(speed_targets or {})
    f1 = {p.name: p.accuracy.macro_f for p in report.pipelines}
    speed = {p.name: p.speed for p in report.pipelines}
    teachers = [n for n in models.teachers if n in f1]
    lines = ["", "## The talk's targets", ""]
    best, chosen_on, scores = best_student(report, models, factors)
    if best is None:
        return "\n".join(lines + ["No students were evaluated.", ""])
    kept = gains_kept(report, models, ensemble, factors)
    fast = [n for n in models.students if n in f1 and meets_floor(report, n, factors)]
    among = (
        f"among the {len(fast)} of {sum(n in f1 for n in models.students)} "
        "students that meet the throughput and memory targets"
        if fast and factors
        else "no student meets the throughput and memory targets: among all"
        if factors
        else "among all students"
    )
    lines += [
        f"Best student (chosen by {chosen_on} macro-F1, {among}): **{best}**, "
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
    fixed = [row for t, row in (corrected or {}).items() if t in teachers and row in f1]
    if fixed:
        top = max(fixed, key=f1.__getitem__)
        row(f"best student vs best teacher with the label prior ({top})",
            vs(f1[best], f1[top]), None)  # fmt: skip
    baselines = [n for n in models.baselines if n in f1]
    if teachers and baselines:
        # a teacher below a gold-only model of the student's size teaches nothing
        low = min(teachers, key=f1.__getitem__)
        strong = max(baselines, key=f1.__getitem__)
        row(
            f"every teacher >= every gold-only baseline ({low} vs {strong})",
            vs(f1[low], f1[strong]),
            f1[low] >= f1[strong],
        )
    own = models.baseline_of.get(best)
    if own in f1:
        row(
            f"best student >= its baseline ({own}) + {BASELINE_GAIN:g}",
            vs(f1[best], f1[own]),
            f1[best] >= f1[own] + BASELINE_GAIN,
        )
    if "test" in kept:
        row(*_kept_row(kept["test"]))
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
    limit = report.tokenizer_speed
    if student_speed is not None and limit is not None:
        s, t = student_speed.docs_per_s, limit.docs_per_s
        value = f"{s:,.0f} vs {t:,.0f} docs/s = {100 * s / t:.1f}%"
        row(f"student docs/s vs {report.tokenizer_name}", value, None)
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
    lines += gain_kept_table(kept)
    return "\n".join(lines)


def _kept_row(entry: Mapping[str, Any]) -> Tuple[str, str, Optional[bool]]:
    """A targets-table row for a gain-kept entry of ``gains_kept``."""
    s, b, t = (entry[f"{k}_macro_f"] for k in ("student", "baseline", "teacher"))
    what = (
        f"gain kept: (best student - {entry['baseline']}) / ({entry['teacher']} - "
        f"{entry['baseline']}) >= {entry['target']:g}"
    )
    value = f"({s:.4f} - {b:.4f}) / ({t:.4f} - {b:.4f}) = {_share(entry['kept'])}"
    ok = None if entry["kept"] is None else entry["kept"] >= entry["target"]
    return what, value, ok


def _share(kept: Optional[float]) -> str:
    """The share rounded down to 3 decimals, so that a share below the target never
    reads as the target (0.7496 is 0.749, not 0.75)."""
    if kept is None:
        return "n/a (the teacher gains nothing)"
    return f"{math.floor(kept * 1000) / 1000:.3f}"


def gain_kept_table(kept: Mapping[str, Mapping[str, Any]]) -> List[str]:
    """Per test set, the share of the best teacher's (and the ensemble's) gain over
    the student's baseline that the best student keeps."""
    if not kept:
        return []
    with_ensemble = any("ensemble" in entry for entry in kept.values())
    header = ["test set", "best student", "its baseline", "best teacher",
              "gain kept", f">= {GAIN_KEPT:g}"]  # fmt: skip
    if with_ensemble:
        header += ["ensemble", "gain kept (ensemble)"]
    rows = []
    for name, entry in kept.items():
        ok = None if entry["kept"] is None else entry["kept"] >= entry["target"]
        cells = [
            name,
            f"{entry['student']} {entry['student_macro_f']:.4f}",
            f"{entry['baseline']} {entry['baseline_macro_f']:.4f}",
            f"{entry['teacher']} {entry['teacher_macro_f']:.4f}",
            _share(entry["kept"]),
            "-" if ok is None else "yes" if ok else "**no**",
        ]
        if with_ensemble:
            ens = entry.get("ensemble")
            cells += (
                ["-", "-"]
                if ens is None
                else [f"{ens['teacher_macro_f']:.4f}", _share(ens["kept"])]
            )
        rows.append(cells)
    return [
        "### The share of the teacher's gain the student keeps, per test set",
        "",
        "(best student - its baseline) / (best teacher on that set - the baseline), "
        "in macro-F1; the student is the one chosen above.",
        "",
        *md_table(header, rows),
        "",
    ]


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
