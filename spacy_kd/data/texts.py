"""The one reader of unlabelled user texts: JSONL, CSV, plain text or DocBin.

Every command that reads texts without needing their labels (``annotate``,
``pretrain-elmo``, fitting teacher weights) goes through :func:`read_texts`.
Labelled data goes through :func:`spacy_kd.data.records.read_records` (JSONL, CSV)
and :func:`spacy_kd.data.docbin.read_docbin`.
"""

from pathlib import Path
from typing import Any, Iterator, Optional, Tuple, Union

from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.data.records import read_records
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
    """Yield ``(id, text)`` for every document of ``path``, in file order.

    fmt: ``jsonl``, ``csv`` (a ``text`` column; ``id`` if present), ``text`` (one
        document per line, blank lines included so that ids stay line numbers) or
        ``spacy`` (DocBin; the id ``data split`` stored, else the position).
        Default: from the extension (see ``FORMAT_OF_SUFFIX``).
    vocab: with a DocBin, yield its docs as Docs in this vocab, labels and user
        data cleared, instead of their texts (a pipeline then runs on them without
        tokenizing again, as ``spacy apply`` does).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file of texts")
    fmt = text_format(path, fmt)
    if fmt == "spacy":
        for i, doc in enumerate(read_docbin(path, lang, vocab=vocab)):
            doc_id = doc.user_data.get(ID_KEY, i)
            if vocab is None:
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
        for i, record in enumerate(read_records(path, fmt)):
            yield record.meta.get("id", i), record.text
