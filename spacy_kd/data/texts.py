"""The one reader of unlabelled user texts: JSONL, CSV, plain text or DocBin.

Every command that reads texts without needing their labels (``annotate``,
``pretrain-elmo``, fitting teacher weights) goes through :func:`read_texts`.
Labelled data goes through :func:`spacy_kd.data.records.read_records` (JSONL, CSV)
and :func:`spacy_kd.data.docbin.read_docbin`.
"""

import itertools
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple, Union

from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.data.language import blank_language
from spacy_kd.data.records import no_documents, read_records
from spacy_kd.errors import DataError

PathLike = Union[str, Path]

# file extension -> format; anything else is plain text, one document per line
FORMAT_OF_SUFFIX = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".spacy": "spacy",
}
TEXT_FORMATS = ("jsonl", "csv", "text", "spacy")


def text_format(path: PathLike, fmt: Optional[str] = None) -> str:
    """``fmt`` checked, or the format that ``path``'s extension implies."""
    if fmt is None:
        return FORMAT_OF_SUFFIX.get(Path(path).suffix.lower(), "text")
    if fmt not in TEXT_FORMATS:
        raise DataError(
            path, f"unknown format {fmt!r}: use one of {', '.join(TEXT_FORMATS)}"
        )
    return fmt


def read_texts(
    path: PathLike,
    fmt: Optional[str] = None,
    *,
    lang: str = "en",
    vocab: Optional[Vocab] = None,
) -> Iterator[Tuple[Any, Union[str, Doc]]]:
    """An iterator of ``(id, text)`` for every document of ``path``, in file order.

    fmt: ``jsonl``, ``csv`` (a ``text`` column; ``id`` if present), ``text`` (one
        document per line, blank lines included so that ids stay line numbers) or
        ``spacy`` (DocBin; the id ``data split`` stored, else the position).
        Default: from the extension (see ``FORMAT_OF_SUFFIX``).
    vocab: with a DocBin, yield its docs as Docs in this vocab, labels and user
        data cleared, instead of their texts (a pipeline then runs on them without
        tokenizing again, as ``spacy apply`` does).

    Checked when called, before anything is read further: the path, the format,
    the language, and that the file holds at least one document with text (a file
    with none is a DataError, not an empty result).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file of texts")
    fmt = text_format(path, fmt)
    if vocab is None:  # texts, not Docs; a blank pipeline's vocab checks ``lang``
        items = _iter_texts(path, fmt, blank_language(lang).vocab, as_text=True)
    else:
        items = _iter_texts(path, fmt, vocab, as_text=False)
    seen: List[Tuple[Any, Union[str, Doc]]] = []
    for item in items:
        seen.append(item)
        if not _is_blank(item[1]):
            return itertools.chain(seen, items)
    raise no_documents(path, len(seen))


def _is_blank(item: Union[str, Doc]) -> bool:
    if isinstance(item, Doc):
        return all(token.is_space for token in item)
    return not item.strip()


def _iter_texts(
    path: Path, fmt: str, vocab: Vocab, as_text: bool
) -> Iterator[Tuple[Any, Union[str, Doc]]]:
    if fmt == "spacy":
        for i, doc in enumerate(read_docbin(path, vocab=vocab)):
            doc_id = doc.user_data.get(ID_KEY, i)
            if as_text:
                yield doc_id, doc.text
                continue
            doc.cats = {}  # labels in the input are not what a pipeline predicts
            doc.user_data.clear()
            yield doc_id, doc
    elif fmt == "text":
        with path.open("rb") as f:
            for line_no, raw in enumerate(f, start=1):
                try:
                    line = raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as e:
                    raise DataError(
                        path, f"cannot decode bytes as UTF-8 ({e.reason})", line=line_no
                    ) from None
                yield line_no - 1, line.lstrip("\ufeff") if line_no == 1 else line
    else:
        for i, record in enumerate(read_records(path, fmt, require_text=False)):
            yield record.meta.get("id", i), record.text
