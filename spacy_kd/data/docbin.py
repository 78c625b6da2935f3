"""The one reader and writer of DocBin (``.spacy``) files, and the doc id key."""

from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, Union

import srsly
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
        docs = list(docbin_docs(doc_bin, vocab))
    except Exception as e:  # msgpack, zlib and a corrupt DocBin raise many kinds
        raise DataError(path, f"not a readable DocBin (.spacy) file: {e!r}") from None
    for i, doc in enumerate(docs):
        if not isinstance(doc.cats, dict):
            raise DataError(
                path, f"doc {i}: cats is a {type(doc.cats).__name__}, not a dict"
            )
    return docs


def docbin_docs(doc_bin: DocBin, vocab: Vocab) -> Iterator[Doc]:
    """``doc_bin.get_docs(vocab)``, the same docs with the same user data, faster.

    spaCy unpacks each doc's user data with ``srsly.msgpack_loads``, which looks up
    srsly's msgpack decoders in catalogue's registry (a scan of every registered
    function) once per doc: about 1.6 ms a doc, more than the rest of reading it.
    Here the decoders are looked up once per file.
    """
    packed = doc_bin.user_data
    doc_bin.user_data = []  # get_docs leaves user data alone
    try:
        unpacker = srsly.msgpack.Unpacker(raw=False, use_list=False)
        for i, doc in enumerate(doc_bin.get_docs(vocab)):
            if i < len(packed) and packed[i] is not None:
                unpacker.feed(packed[i])
                doc.user_data.update(unpacker.unpack())
            yield doc
    finally:
        doc_bin.user_data = packed


def docbin_bytes(docs: Iterable[Doc]) -> Tuple[bytes, int]:
    """The bytes of a DocBin (user data kept) holding ``docs``, and their count.

    The same bytes as ``DocBin(store_user_data=True)``'s, with srsly's msgpack
    encoders looked up once rather than once per doc (see ``docbin_docs``).
    """
    doc_bin = DocBin(store_user_data=False)
    packer = srsly.msgpack.Packer(use_bin_type=True)
    packed: List[Optional[bytes]] = []
    for doc in docs:
        doc_bin.add(doc)
        packed.append(packer.pack(doc.user_data))
    doc_bin.store_user_data = True
    doc_bin.user_data = packed
    return doc_bin.to_bytes(), len(packed)


def write_docbin(docs: Iterable[Doc], output: Union[str, Path]) -> int:
    """Write docs (with their user data) to ``output`` atomically; return the count."""
    data, n = docbin_bytes(docs)
    write_bytes_atomic(output, data)
    return n
