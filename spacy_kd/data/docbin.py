"""The one reader and writer of DocBin (``.spacy``) files, and the doc id key."""

from pathlib import Path
from typing import Iterable, List, Optional, Tuple, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from spacy_kd.data.language import blank_language
from spacy_kd.errors import DataError
from spacy_kd.util import write_bytes_atomic

# ``doc.user_data`` key of a doc's position in the corpus it was split from: kept by
# ``data split``, read by ``annotate`` and ``score-pseudo`` to match docs across files.
ID_KEY = "spacy_kd_id"


def read_docbin(
    path: Union[str, Path], lang: str = "en", vocab: Optional[Vocab] = None
) -> List[Doc]:
    """Load every doc of a ``.spacy`` file, with a clear error if it is not one.

    vocab: the vocab to load the docs into (default: a blank ``lang`` pipeline's).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a DocBin (.spacy) file")
    if vocab is None:
        vocab = blank_language(lang).vocab
    try:
        doc_bin = DocBin(store_user_data=True).from_disk(path)
        docs = list(doc_bin.get_docs(vocab))
    except Exception as e:  # msgpack, zlib and a corrupt DocBin raise many kinds
        raise DataError(path, f"not a readable DocBin (.spacy) file: {e!r}") from None
    for i, doc in enumerate(docs):
        if not isinstance(doc.cats, dict):
            raise DataError(
                path, f"doc {i}: cats is a {type(doc.cats).__name__}, not a dict"
            )
    return docs


def docbin_bytes(docs: Iterable[Doc]) -> Tuple[bytes, int]:
    """The bytes of a DocBin (user data kept) holding ``docs``, and their count."""
    doc_bin = DocBin(store_user_data=True)
    n = 0
    for doc in docs:
        doc_bin.add(doc)
        n += 1
    return doc_bin.to_bytes(), n


def write_docbin(docs: Iterable[Doc], output: Union[str, Path]) -> int:
    """Write docs (with their user data) to ``output`` atomically; return the count."""
    data, n = docbin_bytes(docs)
    write_bytes_atomic(output, data)
    return n
