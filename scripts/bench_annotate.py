"""Compare `python -m spacy_kd annotate` with `spacy apply` on the same teacher and docs.

Usage: python scripts/bench_annotate.py TEACHER INPUT.spacy [--n-docs 1000] [--batch-size 64]

Each tool runs in its own fresh subprocess (same thread settings, same batch size,
one process), on the same first N docs; the wall time of the whole command is
measured, model loading included for both. Prints docs/s for each and the ratio.
This is a benchmark: it prints numbers and asserts nothing.
"""

import argparse
import os
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
            str(tmp / "applied.spacy"), "--batch-size", str(args.batch_size), "--n-process", "1",
        ]  # fmt: skip
        annotate_cmd = [
            sys.executable, "-m", "spacy_kd", "annotate", args.teacher, str(sample),
            str(tmp / "annotated"), "--batch-size", str(args.batch_size),
            "--shard-size", str(max(n, 1)), "--no-progress",
        ]  # fmt: skip
        t_apply = run(apply_cmd, env)
        t_annotate = run(annotate_cmd, env)
    print(f"teacher: {args.teacher}; {n} docs; batch size {args.batch_size}; {args.threads} thread(s)")
    print(f"spacy apply      : {t_apply:8.1f} s  {n / t_apply:8.1f} docs/s")
    print(f"spacy_kd annotate: {t_annotate:8.1f} s  {n / t_annotate:8.1f} docs/s")
    print(f"annotate / apply throughput ratio: {t_apply / t_annotate:.2f}")


if __name__ == "__main__":
    main()
