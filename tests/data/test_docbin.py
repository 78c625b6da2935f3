"""``docbin_docs`` and ``docbin_bytes``: spaCy's DocBin reading and writing with
srsly's msgpack hooks looked up once per file, giving back exactly what spaCy's
own ``get_docs`` and ``to_bytes`` give."""

import numpy
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.tokens import DocBin

from spacy_kd.data.docbin import docbin_bytes, docbin_docs

NLP = spacy.blank("en")
scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.text(max_size=8),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
    ),
    max_leaves=8,
)
keys = st.one_of(
    st.text(max_size=6), st.tuples(st.text(max_size=4), st.integers(-(2**40), 2**40))
)
user_data = st.dictionaries(keys, values, max_size=4)
docs_spec = st.lists(
    st.tuples(st.text(max_size=30), user_data, st.integers(0, 5)), max_size=6
)


def _docs(spec):
    docs = []
    for text, data, n_array in spec:
        doc = NLP.make_doc(text)
        doc.user_data.update(data)
        if n_array:  # numpy arrays go through srsly's numpy encoder and decoder
            doc.user_data["array"] = numpy.arange(n_array, dtype="float32")
        doc.cats = {"A": 1.0, "B": 0.0}
        docs.append(doc)
    return docs


def _as_comparable(doc):
    data = {
        repr(k): (v.tolist(), str(v.dtype)) if isinstance(v, numpy.ndarray) else v
        for k, v in doc.user_data.items()
    }
    return doc.text, [t.whitespace_ for t in doc], dict(doc.cats), data


@settings(max_examples=60, deadline=None)
@given(docs_spec)
def test_docbin_bytes_are_spacys_own(spec):
    docs = _docs(spec)
    reference = DocBin(store_user_data=True)
    for doc in docs:
        reference.add(doc)
    data, n = docbin_bytes(docs)
    assert n == len(docs)
    assert data == reference.to_bytes()


@settings(max_examples=60, deadline=None)
@given(docs_spec, st.booleans())
def test_docbin_docs_are_spacys_own(spec, store_user_data):
    doc_bin = DocBin(store_user_data=store_user_data)
    for doc in _docs(spec):
        doc_bin.add(doc)
    data = doc_bin.to_bytes()
    expected = [
        _as_comparable(d) for d in DocBin().from_bytes(data).get_docs(NLP.vocab)
    ]
    read_back = DocBin().from_bytes(data)
    packed = list(read_back.user_data)
    got = [_as_comparable(d) for d in docbin_docs(read_back, NLP.vocab)]
    assert got == expected
    assert read_back.user_data == packed  # the DocBin is left as it was


def test_docbin_docs_restores_user_data_when_stopped_early():
    doc_bin = DocBin(store_user_data=True)
    for i in range(3):
        doc = NLP.make_doc(f"doc {i}")
        doc.user_data["id"] = i
        doc_bin.add(doc)
    packed = list(doc_bin.user_data)
    docs = docbin_docs(doc_bin, NLP.vocab)
    first = next(docs)
    assert first.user_data == {"id": 0}
    docs.close()
    assert doc_bin.user_data == packed
    assert [d.user_data["id"] for d in docbin_docs(doc_bin, NLP.vocab)] == [0, 1, 2]
