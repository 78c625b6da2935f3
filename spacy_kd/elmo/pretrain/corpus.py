"""The pretraining corpus: documents' tokens, their fingerprint, the held-out split."""

import hashlib
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from spacy_kd.data.docbin import read_docbin
from spacy_kd.data.language import blank_language
from spacy_kd.data.texts import read_texts, text_format

PathLike = Union[str, Path]


def read_token_lists(
    path: PathLike, fmt: Optional[str] = None, lang: str = "en"
) -> List[List[str]]:
    """Tokens of every document of a JSONL/CSV (``text``), plain-text or DocBin corpus.

    fmt: ``jsonl``, ``csv``, ``text`` (one document per non-empty line) or
        ``spacy`` (DocBin, whose docs keep their tokens); default from the extension
        (``.txt`` and unknown extensions are plain text). Other texts are tokenized
        with ``spacy.blank(lang)``; whitespace tokens are dropped.
    """
    fmt = text_format(path, fmt)
    docs: Iterable[Doc]
    if fmt == "spacy":
        docs = read_docbin(path, lang=lang)
    else:
        texts = [str(text) for _, text in read_texts(path, fmt, lang=lang)]
        if fmt == "text":
            texts = [text for text in texts if text.strip()]
        tokenizer: Any = blank_language(lang).tokenizer
        docs = tokenizer.pipe(texts)
    return [[t.text for t in doc if not t.is_space] for doc in docs]


def corpus_fingerprint(token_lists: Sequence[Sequence[str]]) -> str:
    """SHA-256 of the tokens, so that a resume can tell its corpus from another."""
    digest = hashlib.sha256()
    for tokens in token_lists:
        digest.update("\x1f".join(tokens).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def split_heldout(
    n_docs: int, fraction: float, seed: int
) -> Tuple[List[int], List[int]]:
    """Seeded split of document indices into (train, held-out); held-out >= 1 doc."""
    order = numpy.random.default_rng([seed, 7919]).permutation(n_docs)
    n_heldout = min(n_docs - 1, max(1, int(round(fraction * n_docs))))
    return sorted(order[n_heldout:].tolist()), sorted(order[:n_heldout].tolist())
