"""``spacy-kd.strided_spans.v1``: spacy-transformers' strided spans, capped per doc.

spacy-transformers' ``strided_spans.v1`` reads every doc whole, so a transformer's
cost grows with the longest docs of a corpus (20 Newsgroups has posts of 10,000+
tokens). ``max_spans`` keeps only the first windows of each doc, trading the tail
of long docs for a bounded cost per doc; 0 keeps every window (the same spans as
``spacy-transformers.strided_spans.v1``).
"""

from functools import partial
from typing import Callable, Iterable, List

from spacy.tokens import Doc, Span


def get_capped_strided_spans(
    docs: Iterable[Doc], *, window: int, stride: int, max_spans: int
) -> List[List[Span]]:
    from spacy_transformers.span_getters import get_strided_spans

    spans = get_strided_spans(docs, window=window, stride=stride)
    if max_spans > 0:
        spans = [doc_spans[:max_spans] for doc_spans in spans]
    return spans


def configure_capped_strided_spans(
    window: int, stride: int, max_spans: int = 0
) -> Callable[[Iterable[Doc]], List[List[Span]]]:
    """Windows of ``window`` tokens every ``stride`` tokens, at most ``max_spans`` a
    doc."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window} and {stride}")
    if stride > window:
        raise ValueError(f"stride ({stride}) > window ({window}) would skip tokens")
    if max_spans < 0:
        raise ValueError(f"max_spans must be >= 0 (0: every window), got {max_spans}")
    return partial(
        get_capped_strided_spans, window=window, stride=stride, max_spans=max_spans
    )
