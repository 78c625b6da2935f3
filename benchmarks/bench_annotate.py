"""Compare `python -m spacy_kd annotate` with `spacy apply` on one teacher and docs.

Usage:
    python benchmarks/bench_annotate.py TEACHER INPUT.spacy [--n-docs 1000]
        [--batch-size 64]

Each tool runs in its own fresh subprocess (same thread settings, same batch size,
one process), on the same first N docs; the wall time of the whole command is
measured, model loading included for both, alternating the two tools --repeat
times and comparing medians. Prints docs/s for each and the ratio.
This is a benchmark: it prints numbers and asserts nothing.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import spacy
from spacy.tokens import DocBin


def run(cmd, env):
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("teacher")
    parser.add_argument("input")
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="Alternating runs of each; medians are compared",
    )
    args = parser.parse_args()
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(args.threads)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        docs = list(DocBin().from_disk(args.input).get_docs(spacy.blank("en").vocab))
        docs = docs[: args.n_docs]
        sample = tmp / "input.spacy"
        DocBin(docs=[spacy.blank("en").make_doc(d.text) for d in docs]).to_disk(sample)
        n = len(docs)
        apply_cmd = [
            sys.executable, "-m", "spacy", "apply", args.teacher, str(sample),
            str(tmp / "applied.spacy"), "--batch-size", str(args.batch_size),
            "--n-process", "1",
        ]  # fmt: skip
        annotate_cmd = [
            sys.executable, "-m", "spacy_kd", "annotate", args.teacher, str(sample),
            str(tmp / "annotated"), "--batch-size", str(args.batch_size),
            "--shard-size", str(max(n, 1)), "--no-progress",
        ]  # fmt: skip
        applies, annotates = [], []
        for i in range(max(args.repeat, 1)):
            (tmp / "applied.spacy").unlink(missing_ok=True)
            applies.append(run(apply_cmd, env))
            shutil.rmtree(tmp / "annotated", ignore_errors=True)  # no resuming
            annotates.append(run(annotate_cmd, env))
            print(
                f"run {i + 1}: apply {applies[-1]:.1f} s, "
                f"annotate {annotates[-1]:.1f} s",
                flush=True,
            )
        t_apply, t_annotate = statistics.median(applies), statistics.median(annotates)
    print(
        f"teacher: {args.teacher}; {n} docs; batch size {args.batch_size}; "
        f"{args.threads} thread(s); median of {len(applies)} runs"
    )
    print(f"spacy apply      : {t_apply:8.1f} s  {n / t_apply:8.1f} docs/s")
    print(f"spacy_kd annotate: {t_annotate:8.1f} s  {n / t_annotate:8.1f} docs/s")
    print(f"annotate / apply throughput ratio: {t_apply / t_annotate:.2f}")


if __name__ == "__main__":
    main()
