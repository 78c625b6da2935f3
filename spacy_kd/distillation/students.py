"""Train the student grid: teachers x targets (hard, soft) x pseudo-label caps.

    python spacy_kd/distillation/students.py training/students \\
        --gold corpus/split/labelled.spacy --dev corpus/split/dev.spacy \\
        --pseudo training/pseudo --teachers teacher_elmo,teacher_bert,ensemble \\
        --targets hard,soft --caps 3000,5000,0 [--temperature 1 --alpha 0.5] \\
        [--jobs 2 --threads 2] [-- extra `spacy train` overrides]

Every student is ``python -m spacy train configs/student_bow.cfg`` on the gold docs
plus the shards of ONE ``annotate`` run with all the teachers: ``--distillation.teachers``
picks the teacher whose outputs a student learns (``ensemble``: the combination
annotate wrote), ``--distillation.hard`` turns them into 0/1 labels, and
``--distillation.max_pseudo`` caps the pseudo-labelled docs (0: all; smaller caps are
subsets of larger ones). Students go to OUT/student_<teacher>_<target>_<cap>; a
student whose training finished (a ``training.json`` beside its model) is not
trained again, one whose training was cut off is redone. OUT/students.json lists
them all, for the report.

``--jobs N`` trains N students at once, each with ``--threads`` // N threads (OMP,
MKL, OpenBLAS and torch variables) and its output in OUT/logs/<student>.log: a
student's training is mostly single-threaded, so on 2 cores two at once take about
half the time of one after the other.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional

from spacy_kd.evaluation.measure import worker_env

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
    parser.add_argument("--config", default=str(REPO / "configs" / "student_bow.cfg"))
    parser.add_argument(
        "--teachers",
        default=ENSEMBLE,
        help=f"teacher names in the shards' records, or {ENSEMBLE}",
    )
    parser.add_argument("--targets", default="hard,soft")
    parser.add_argument(
        "--caps", default="0", help="pseudo-labelled docs per student (0: all)"
    )
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--alpha", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="students trained at once")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads in all, shared by the jobs (0: leave the environment's)",
    )
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

    if args.jobs < 1:
        sys.exit(f"--jobs: at least 1, got {args.jobs}")
    if args.threads < 0:
        sys.exit(f"--threads: at least 0, got {args.threads}")
    # each job's share of the threads; None: leave the environment's thread settings
    threads = None
    if args.threads or args.jobs > 1:
        threads = max(1, (args.threads or os.cpu_count() or 1) // args.jobs)

    out: Path = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    listing: List[Dict] = []
    pending = []
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
                if (
                    done.exists()
                    and json.loads(done.read_text())["overrides"] == overrides
                ):
                    print(f"{name}: already trained", flush=True)
                    listing.append(json.loads(done.read_text()))
                    continue
                listing.append(entry)
                pending.append(entry)

    log_dir = out / "logs" if args.jobs > 1 else None
    failed = threading.Event()

    def train(entry: Dict) -> Optional[str]:
        if failed.is_set():  # do not start more students after a failure
            return None
        folder = Path(entry["path"]).parent
        shutil.rmtree(folder, ignore_errors=True)  # a cut-off or different run
        cmd = [
            sys.executable,
            "-m",
            "spacy",
            "train",
            args.config,
            "--output",
            str(folder),
            *entry["overrides"],
        ]
        env = worker_env(threads) if threads else None
        print("+ " + " ".join(cmd), flush=True)
        start = time.perf_counter()
        if log_dir is None:
            rc = subprocess.call(cmd, env=env)
        else:
            log_dir.mkdir(exist_ok=True)
            log = log_dir / f"{entry['name']}.log"
            with log.open("w", encoding="utf-8") as f:
                rc = subprocess.call(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
            if rc != 0:
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[
                    -30:
                ]
                print("\n".join(tail), flush=True)
        if rc != 0:
            failed.set()
            return f"{entry['name']}: spacy train failed (exit {rc})" + (
                f", log {log}" if log_dir else ""
            )
        entry["seconds"] = round(time.perf_counter() - start, 1)
        (folder / "training.json").write_text(
            json.dumps(entry, indent=2), encoding="utf-8"
        )
        print(f"{entry['name']}: trained in {entry['seconds']:.0f} s", flush=True)
        return None

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        errors = [e for e in pool.map(train, pending) if e]
    if errors:
        sys.exit("; ".join(errors))
    tmp = out / ".students.json.tmp"
    tmp.write_text(json.dumps(listing, indent=2), encoding="utf-8")
    tmp.replace(out / "students.json")


if __name__ == "__main__":
    main()
