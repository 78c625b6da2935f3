"""TF-IDF weighted n-gram features for a sparse linear layer: spacy-kd.TfidfNgrams.v1.

The output is what thinc's ``SparseLinear_v2`` takes: ``(keys, values, lengths)``,
like spaCy's ``extract_ngrams``, but the values are sublinear term frequencies
times inverse document frequencies, L2-normalised per document: the features of
the classic TF-IDF + logistic regression text classifier.

Document frequencies live in a hashed table (a parameter, so it is saved with the
pipeline). They are counted online during training: each distinct text is counted
the first time a training update sees it, so from the second epoch on the table is
complete and fixed. At prediction time the table is only read.

``spacy-kd.TfidfNgrams.v2`` counts nothing while training: its table is fitted once,
over every training doc (gold and pool), when ``kd_textcat`` / ``kd_textcat_multilabel``
initialize (:func:`fit_tfidf_layers`), so the first epoch sees the same features as the
last and a reloaded model never counts its training docs again. At prediction it drops
the n-grams no
training doc had: their IDF would be the largest of all while their hashed weights
belong to other n-grams.
"""

from typing import Callable, Iterable, List, Optional, Set, Tuple

import numpy
from spacy.attrs import intify_attr
from spacy.tokens import Doc
from thinc.api import Model

from spacy_kd.teachers._state import set_state

InT = List[Doc]
OutT = Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]

NAME = "tfidf_ngrams"
NAME_V2 = "tfidf_ngrams_v2"
# model.id -> hashes of the texts already counted into that model's df table. Not an
# attr: attrs are serialised, and this set only matters within a training session.
_SEEN = set_state()


def build_tfidf_ngrams(
    ngram_size: int = 2,
    n_buckets: int = 2**20,
    attr: str = "LOWER",
    sublinear_tf: bool = True,
) -> Model[InT, OutT]:
    """Hashed 1..ngram_size-grams of ``attr`` with TF-IDF values, L2-normalised.

    n_buckets: size of the hashed document-frequency table.
    """
    attr_id = intify_attr(attr)
    if attr_id is None:
        raise ValueError(f"unknown token attribute {attr!r} for TfidfNgrams")
    if ngram_size < 1:
        raise ValueError("ngram_size must be >= 1")
    model: Model[InT, OutT] = Model(
        NAME,
        _forward,
        init=_init,
        params={"df": None, "n_docs": None},
        dims={"n_buckets": n_buckets},
        attrs={"ngram_size": ngram_size, "attr": attr_id, "sublinear_tf": sublinear_tf},
    )
    return model


def build_tfidf_ngrams_v2(
    ngram_size: int = 1,
    n_buckets: int = 2**20,
    attr: str = "LOWER",
    sublinear_tf: bool = True,
) -> Model[InT, OutT]:
    """Hashed 1..ngram_size-grams of ``attr`` with TF-IDF values, L2-normalised; the
    document frequencies are fitted once at initialize, over the whole training set.

    n_buckets: size of the hashed document-frequency table.
    """
    model = build_tfidf_ngrams(ngram_size, n_buckets, attr, sublinear_tf)
    model.name = NAME_V2  # _forward and fit_tfidf_layers tell v2 by its name
    return model


def fit_tfidf_layers(model: Model, docs: Iterable[Doc]) -> int:
    """Fit the document frequencies of every ``TfidfNgrams.v2`` layer in ``model``
    on ``docs``, in one pass, replacing what they held; return the number of docs.

    Every doc counts, duplicates included (as scikit-learn's TfidfVectorizer).
    """
    layers = [node for node in model.walk() if node.name == NAME_V2]
    if not layers:
        return 0
    for layer in layers:
        _init(layer)
        layer.set_param("df", layer.ops.alloc1f(layer.get_dim("n_buckets")))
    n = 0
    for doc in docs:
        for layer in layers:
            _add_doc(layer, doc)
        n += 1
    for layer in layers:
        layer.set_param("n_docs", numpy.asarray([n], dtype="float32"))
    return n


def is_fitted(model: Model) -> bool:
    """Whether a TF-IDF layer has document frequencies (v2: fitted at initialize)."""
    return model.has_param("n_docs") and float(model.get_param("n_docs")[0]) > 0


def _init(model: Model, X: Optional[InT] = None, Y=None) -> Model:
    if not model.has_param("df"):
        model.set_param("df", model.ops.alloc1f(model.get_dim("n_buckets")))
        model.set_param("n_docs", model.ops.alloc1f(1))
    return model


def doc_ngrams(model: Model, doc: Doc) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Unique n-gram keys of a doc and their counts."""
    unigrams = doc.to_array([model.attrs["attr"]]).astype("uint64").ravel()
    grams = [unigrams]
    for n in range(2, model.attrs["ngram_size"] + 1):
        if len(unigrams) >= n:
            grams.append(model.ops.ngrams(n, unigrams))
    keys, counts = numpy.unique(numpy.concatenate(grams), return_counts=True)
    return keys.astype("uint64"), counts


def _seen(model: Model) -> Set[int]:
    return _SEEN.get(model.id)


def _add_doc(model: Model, doc: Doc) -> None:
    """Count ``doc`` in the document frequencies of each of its n-grams' buckets."""
    keys, _ = doc_ngrams(model, doc)
    buckets = (keys % model.get_dim("n_buckets")).astype("int64")
    numpy.add.at(model.get_param("df"), buckets, 1.0)


def _count(model: Model, docs: Iterable[Doc]) -> None:
    if not model.has_param("df"):
        _init(model)
    seen = _seen(model)
    added = 0
    for doc in docs:
        key = hash(doc.text)
        if key in seen:
            continue
        seen.add(key)
        _add_doc(model, doc)
        added += 1
    model.get_param("n_docs")[0] += added


def _forward(model: Model, docs: InT, is_train: bool) -> Tuple[OutT, Callable]:
    drop_unseen = model.name == NAME_V2  # v2: fitted once, unseen n-grams dropped
    if is_train and not drop_unseen:
        _count(model, docs)
    elif is_train and not is_fitted(model):
        raise ValueError(
            "spacy-kd.TfidfNgrams.v2 has no document frequencies: they are fitted "
            "when a kd_textcat or kd_textcat_multilabel component initializes; use "
            "one of those factories (or call fit_tfidf_layers) before training"
        )
    elif not model.has_param("df"):
        _init(model)
    df = model.get_param("df")
    n_docs = float(model.get_param("n_docs")[0])
    n_buckets = model.get_dim("n_buckets")
    all_keys, all_vals, lengths = [], [], []
    for doc in docs:
        keys, counts = doc_ngrams(model, doc)
        tf = counts.astype("float32")
        if model.attrs["sublinear_tf"]:
            tf = 1.0 + numpy.log(tf)
        # smooth idf, as scikit-learn's TfidfVectorizer: log((1+n)/(1+df)) + 1
        doc_df = df[(keys % n_buckets).astype("int64")]
        if drop_unseen:
            seen = doc_df > 0
            keys, tf, doc_df = keys[seen], tf[seen], doc_df[seen]
        vals = (tf * (numpy.log((1.0 + n_docs) / (1.0 + doc_df)) + 1.0)).astype(
            "float32"
        )
        norm = float(numpy.sqrt((vals * vals).sum()))
        if norm > 0:
            vals /= norm
        all_keys.append(keys)
        all_vals.append(vals)
        lengths.append(len(keys))
    out = (
        numpy.concatenate(all_keys) if all_keys else numpy.zeros((0,), dtype="uint64"),
        numpy.concatenate(all_vals) if all_vals else numpy.zeros((0,), dtype="float32"),
        numpy.asarray(lengths, dtype="int32"),
    )

    def backprop(dY):
        return []

    return out, backprop
