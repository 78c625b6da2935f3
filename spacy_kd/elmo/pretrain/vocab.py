"""The biLM's output vocabulary: built from training tokens, read and written."""

from collections import Counter
from pathlib import Path
from typing import List, Sequence, Union

from spacy_kd.errors import DataError
from spacy_kd.util import atomic_open

PathLike = Union[str, Path]

VOCAB_FILE = "vocab.txt"
SPECIAL_TOKENS = ("</S>", "<S>", "<UNK>")  # bilm-tf's vocabulary file starts so
UNK_ID = 2


def build_vocab(
    token_lists: Sequence[Sequence[str]], size: int, min_count: int = 1
) -> List[str]:
    """bilm-tf's vocabulary: ``</S>``, ``<S>``, ``<UNK>``, then words by frequency.

    Ties are broken alphabetically, so the vocabulary is deterministic.
    """
    counts = Counter(word for tokens in token_lists for word in tokens)
    for special in SPECIAL_TOKENS:
        counts.pop(special, None)
    ranked = sorted(
        (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
    )
    return list(SPECIAL_TOKENS) + ranked[: size - len(SPECIAL_TOKENS)]


def read_vocab(path: PathLike) -> List[str]:
    """The words of a ``vocab.txt``, one a line, special tokens first."""
    words = Path(path).read_text(encoding="utf-8").split("\n")
    if words and words[-1] == "":
        words.pop()
    if tuple(words[:3]) != SPECIAL_TOKENS:
        raise DataError(
            path, f"a vocabulary must start with {', '.join(SPECIAL_TOKENS)}"
        )
    return words


def write_vocab(words: Sequence[str], path: PathLike) -> None:
    """Write ``words`` one a line (bilm-tf's ``vocab.txt``), atomically."""
    with atomic_open(path, "w") as f:
        for word in words:
            f.write(word + "\n")
