"""Docs/s and agreement of teacher pipelines (e.g. one BERT teacher with different
inference settings, from `spacy_kd teacher-inference`) on the same docs.

Usage:
    python benchmarks/bench_teacher_inference.py REFERENCE OTHER [OTHER ...]
        --input INPUT.spacy [--n-docs 500] [--batch-size 64] [--threads 1]
        [--repeat 3] [--sort-by-length]

Every pipeline is loaded once in this process, then the pipelines take turns
(REFERENCE, OTHER..., REFERENCE, OTHER..., --repeat times) over the same first N docs
of INPUT (texts through `nlp.pipe`; --sort-by-length feeds them shortest first, as
`annotate --sort-by-length` does within a shard). Prints each pipeline's median
docs/s, its ratio to REFERENCE's, and how its outputs agree with REFERENCE's: the
share of docs with the same top label (exclusive) or the same decisions at 0.5
(multi-label), and the largest probability difference.
This is a benchmark: it prints numbers and asserts nothing.
"""

import argparse
import statistics
import time

import numpy
import spacy
import torch
from spacy.tokens import DocBin

from spacy_kd.classifier import find_text_classifier, pipe_scores


def scores(nlp, labels, texts, batch_size):
    rows = [row for _doc, row in pipe_scores(nlp, labels, texts, batch_size=batch_size)]
    return numpy.asarray(rows, dtype="float64").reshape(len(rows), len(labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipelines", nargs="+")
    parser.add_argument("--input", required=True)
    parser.add_argument("--n-docs", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sort-by-length", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    nlps = [spacy.load(path) for path in args.pipelines]
    clf = find_text_classifier(nlps[0], args.pipelines[0])
    labels = clf.labels
    docs = list(DocBin().from_disk(args.input).get_docs(nlps[0].vocab))
    texts = [doc.text for doc in docs[: args.n_docs]]
    if args.sort_by_length:
        texts.sort(key=len)
    seconds = [[] for _ in nlps]
    outputs = [None for _ in nlps]
    for _ in range(args.repeat):
        for i, nlp in enumerate(nlps):
            start = time.perf_counter()
            outputs[i] = scores(nlp, labels, texts, args.batch_size)
            seconds[i].append(time.perf_counter() - start)
    ref = outputs[0]
    print(
        f"{len(texts)} docs of {args.input}, batch size {args.batch_size}, "
        f"{args.threads} thread(s), median of {args.repeat}"
        + (", sorted by length" if args.sort_by_length else "")
    )
    print("| pipeline | docs/s | x reference | same decisions | max prob diff |")
    print("|---|---|---|---|---|")
    ref_speed = len(texts) / statistics.median(seconds[0])
    for path, secs, out in zip(args.pipelines, seconds, outputs):
        speed = len(texts) / statistics.median(secs)
        if clf.multi_label:
            same = ((out >= 0.5) == (ref >= 0.5)).all(axis=1).mean()
        else:
            same = (out.argmax(axis=1) == ref.argmax(axis=1)).mean()
        diff = float(numpy.abs(out - ref).max()) if out.size else 0.0
        print(
            f"| {path} | {speed:.2f} | {speed / ref_speed:.2f} | {same:.4f} | "
            f"{diff:.4f} |"
        )


if __name__ == "__main__":
    main()
