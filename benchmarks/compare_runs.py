"""How two annotate runs over the same input agree, teacher by teacher: e.g. the
float32 and the int8 copy of one BERT teacher (`spacy_kd teacher-inference`), each
run on its own over the whole pool.

Usage:
    python benchmarks/compare_runs.py RUN_A TEACHER_A RUN_B TEACHER_B

Reads every shard of both runs (docs in input order) and prints the number of docs,
the share with the same decisions (top label for exclusive labels, each label at 0.5
for multi-label) and the largest and mean probability differences.
This is a benchmark: it prints numbers and asserts nothing.
"""

import argparse
import json
from pathlib import Path

import numpy
import spacy
from spacy.tokens import DocBin

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.pseudo import hard_labels, pseudo_record


def probabilities(run: Path, teacher: str) -> numpy.ndarray:
    vocab = spacy.blank("en").vocab
    rows = []
    for shard in iter_shards(run):
        for doc in DocBin(store_user_data=True).from_disk(shard).get_docs(vocab):
            rows.append(pseudo_record(doc)["probs"][teacher])
    return numpy.asarray(rows, dtype="float64")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("a", "b"):
        parser.add_argument(f"run_{name}", type=Path)
        parser.add_argument(f"teacher_{name}")
    args = parser.parse_args()
    manifest = json.loads((args.run_a / "manifest.json").read_text())
    a = probabilities(args.run_a, args.teacher_a)
    b = probabilities(args.run_b, args.teacher_b)
    if a.shape != b.shape:
        raise SystemExit(f"the runs differ in shape: {a.shape} against {b.shape}")
    multi_label = bool(manifest.get("multi_label"))
    same = numpy.asarray(
        [
            (
                hard_labels(x, multi_label=multi_label)
                == hard_labels(y, multi_label=multi_label)
            ).all()
            for x, y in zip(a, b)
        ]
    )
    diff = numpy.abs(a - b)
    print(
        f"{len(a)} docs: same decisions {same.mean():.4f}, largest probability "
        f"difference {diff.max():.4f}, mean {diff.mean():.5f}"
    )


if __name__ == "__main__":
    main()
