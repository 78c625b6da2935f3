"""The project's report: `python -m spacy_kd evaluate` over every model, plus the talk's targets.

    python spacy_kd/evaluation/workflow.py training --data corpus/test.spacy [--sample 1500] \\
        [--n-threads 1] [--n-speed-docs 500]

Evaluates, on the test data, whichever of these OUT holds: stock (spaCy's stock
textcat, gold only), baseline (the student's architecture and loss, gold only), the
teachers (teacher_elmo, teacher_bert) and every student listed in
OUT/students/students.json. ``spacy_kd evaluate`` writes OUT/report.json, .md and .png;
this script then appends to report.md how the targets of the talk fare: best student
against best single teacher, baseline and stock textcat; student throughput against
each teacher (25x ELMo, 50x BERT); student peak memory against the baseline's (1.1x).
Numbers only: nothing here passes or fails.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

SINGLE_TEACHERS = ("teacher_elmo", "teacher_bert")


def models(out: Path):
    found = []
    for name in ("stock", "baseline", *SINGLE_TEACHERS):
        if (out / name / "model-best" / "meta.json").exists():
            found.append((name, out / name / "model-best"))
    listing = out / "students" / "students.json"
    if listing.exists():
        for entry in json.loads(listing.read_text(encoding="utf-8")):
            found.append((entry["name"], Path(entry["path"])))
    return found


def dev_macro_f(model: Path):
    """The dev macro-F1 `spacy train` recorded for a model-best, or None."""
    try:
        meta = json.loads((model / "meta.json").read_text(encoding="utf-8"))
        return float(meta["performance"]["cats_macro_f"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def targets_section(report: dict) -> str:
    rows = {p["name"]: p for p in report["pipelines"]}
    f1 = {n: p["accuracy"]["macro_f"] for n, p in rows.items()}
    speed = {n: (p.get("speed") or {}) for n, p in rows.items()}
    students = [n for n in rows if n.startswith("student_")]
    teachers = [n for n in SINGLE_TEACHERS if n in rows]
    lines = ["", "## The talk's targets", ""]
    if not students:
        return "\n".join(lines + ["No students were evaluated.", ""])
    # the best student is chosen on dev (model-best's score in meta.json), not on test
    dev = {n: dev_macro_f(Path(rows[n]["path"])) for n in students}
    chosen_on = "dev" if all(v is not None for v in dev.values()) else "test"
    best = max(students, key=(dev.get if chosen_on == "dev" else f1.get))
    lines.append(
        f"Best student (chosen by {chosen_on} macro-F1): **{best}**, test macro-F1 {f1[best]:.4f}."
    )
    lines.append("")
    lines.append("| target | measured | met |")
    lines.append("|---|---|---|")

    def row(what, value, ok):
        lines.append(f"| {what} | {value} | {'yes' if ok else '**no**'} |")

    if teachers:
        top = max(teachers, key=f1.get)
        row(
            f"best student >= best single teacher ({top})",
            f"{f1[best]:.4f} vs {f1[top]:.4f} ({f1[best] - f1[top]:+.4f})",
            f1[best] >= f1[top],
        )
    for ref in ("baseline", "stock"):
        if ref in f1:
            row(
                f"best student > {ref}",
                f"{f1[best]:.4f} vs {f1[ref]:.4f} ({f1[best] - f1[ref]:+.4f})",
                f1[best] > f1[ref],
            )
    for teacher, factor in (("teacher_elmo", 25), ("teacher_bert", 50)):
        s, t = (
            speed.get(best, {}).get("docs_per_s"),
            speed.get(teacher, {}).get("docs_per_s"),
        )
        if s and t:
            row(
                f"student docs/s >= {factor}x {teacher}",
                f"{s:,.0f} vs {t:,.1f} docs/s = {s / t:,.1f}x",
                s >= factor * t,
            )
    s, b = (
        speed.get(best, {}).get("peak_rss_infer_mib"),
        speed.get("baseline", {}).get("peak_rss_infer_mib"),
    )
    if s and b:
        row(
            "student peak memory <= 1.1x baseline",
            f"{s:,.0f} vs {b:,.0f} MiB = {s / b:.2f}x",
            s <= 1.1 * b,
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--data", required=True)
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--n-threads", type=int, default=1)
    parser.add_argument("--n-speed-docs", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    out: Path = args.output_dir
    found = models(out)
    if not found:
        sys.exit(f"{out}: no trained models to report on")
    names = [n for n, _ in found]
    cmd = [
        sys.executable, "-m", "spacy_kd", "evaluate", *[str(p) for _, p in found],
        "--data", args.data, "--names", ",".join(names), "--sample", str(args.sample),
        "--n-threads", str(args.n_threads), "--n-speed-docs", str(args.n_speed_docs),
        "--batch-size", str(args.batch_size),
        "--output", str(out / "report.json"), "--markdown", str(out / "report.md"),
        "--plot", str(out / "report.png"), "--plot-metric", "macro_f",
    ]  # fmt: skip
    if "teacher_bert" in names:
        cmd += ["--reference", "teacher_bert"]
    print("+ " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        sys.exit(rc)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    section = targets_section(report)
    md = out / "report.md"
    tmp = md.with_name(".report.md.tmp")
    tmp.write_text(md.read_text(encoding="utf-8") + section, encoding="utf-8")
    tmp.replace(md)
    print(section)


if __name__ == "__main__":
    main()
