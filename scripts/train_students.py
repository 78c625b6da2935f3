"""Train the student grid: teachers x targets (hard, soft) x pseudo-label caps.

    python scripts/train_students.py training/students \\
        --gold corpus/split/labelled.spacy --dev corpus/split/dev.spacy \\
        --pseudo training/pseudo --teachers teacher_elmo,teacher_bert,ensemble \\
        --targets hard,soft --caps 3000,5000,0 [--temperature 1 --alpha 0.5] \\
        [-- extra `spacy train` overrides]

Every student is ``python -m spacy train configs/student_cnn.cfg`` on the gold docs
plus the shards of ONE ``annotate`` run with all the teachers: ``--distillation.teachers``
picks the teacher whose outputs a student learns (``ensemble``: the combination
annotate wrote), ``--distillation.hard`` turns them into 0/1 labels, and
``--distillation.max_pseudo`` caps the pseudo-labelled docs (0: all; smaller caps are
subsets of larger ones). Students go to OUT/student_<teacher>_<target>_<cap>; a
student whose training finished (a ``training.json`` beside its model) is not
trained again, one whose training was cut off is redone. OUT/students.json lists
them all, for the report.
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENSEMBLE = "ensemble"


def short(teacher: str) -> str:
    return teacher[len("teacher_") :] if teacher.startswith("teacher_") else teacher


def split_list(value: str) -> list:
    return [v.strip() for v in value.split(",") if v.strip()]


def main() -> None:
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--gold", required=True)
    parser.add_argument("--dev", required=True)
    parser.add_argument("--pseudo", required=True, help="annotate's output folder")
    parser.add_argument("--config", default=str(REPO / "configs" / "student_cnn.cfg"))
    parser.add_argument("--teachers", default=ENSEMBLE, help=f"teacher names in the shards' records, or {ENSEMBLE}")
    parser.add_argument("--targets", default="hard,soft")
    parser.add_argument("--caps", default="0", help="pseudo-labelled docs per student (0: all)")
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    targets = split_list(args.targets)
    bad = sorted(set(targets) - {"hard", "soft"})
    if bad:
        sys.exit(f"--targets: unknown {bad}; use hard and/or soft")
    try:
        caps = [int(c) for c in split_list(args.caps)]
    except ValueError:
        sys.exit(f"--caps: comma-separated integers, got {args.caps!r}")
    if not caps or any(c < 0 for c in caps):
        sys.exit(f"--caps: integers >= 0 (0: the whole pool), got {args.caps!r}")
    teachers = split_list(args.teachers)
    if not teachers:
        sys.exit("--teachers: give at least one")

    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    listing = []
    for teacher in teachers:
        for target in targets:
            for cap in caps:
                name = f"student_{short(teacher)}_{target}_{cap or 'all'}"
                folder = out / name
                overrides = [
                    "--paths.train", args.gold, "--paths.dev", args.dev,
                    "--paths.pseudo", args.pseudo,
                    "--distillation.teachers", "null" if teacher == ENSEMBLE else json.dumps([teacher]),
                    "--distillation.hard", "true" if target == "hard" else "false",
                    "--distillation.max_pseudo", str(cap), "--system.seed", str(args.seed),
                ]  # fmt: skip
                if args.temperature is not None:
                    overrides += ["--distillation.temperature", str(args.temperature)]
                if args.alpha is not None:
                    overrides += ["--distillation.alpha", str(args.alpha)]
                overrides += extra
                entry = {"name": name, "teacher": teacher, "target": target, "cap": cap,
                         "path": str(folder / "model-best"), "overrides": overrides}  # fmt: skip
                done = folder / "training.json"
                if done.exists() and json.loads(done.read_text())["overrides"] == overrides:
                    print(f"{name}: already trained", flush=True)
                    listing.append(json.loads(done.read_text()))
                    continue
                shutil.rmtree(folder, ignore_errors=True)  # a cut-off or different run
                cmd = [sys.executable, "-m", "spacy", "train", args.config, "--output", str(folder), *overrides]
                print("+ " + " ".join(cmd), flush=True)
                start = time.perf_counter()
                rc = subprocess.call(cmd)
                if rc != 0:
                    sys.exit(f"{name}: spacy train failed (exit {rc})")
                entry["seconds"] = round(time.perf_counter() - start, 1)
                done.write_text(json.dumps(entry, indent=2), encoding="utf-8")
                print(f"{name}: trained in {entry['seconds']:.0f} s", flush=True)
                listing.append(entry)
    tmp = out / ".students.json.tmp"
    tmp.write_text(json.dumps(listing, indent=2), encoding="utf-8")
    tmp.replace(out / "students.json")


if __name__ == "__main__":
    main()
