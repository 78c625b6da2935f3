"""Student architectures: compact text classifiers that run on CPU without torch.

``spacy-kd.TfidfLinear.v1`` is the classic TF-IDF + logistic regression classifier as
a thinc model: hashed n-grams with sublinear tf times IDF (fitted at initialize over
the gold and pseudo-labelled training docs, saved with the model), L2-normalised per
doc, into a sparse linear layer and a softmax (exclusive classes) or a sigmoid
(multi-label). Sparse all the way: a doc costs its number of distinct n-grams.

``spacy-kd.VectorCNN.v1`` is a compact CNN: a tok2vec (in the shipped config, hash
embeddings of NORM, PREFIX, SUFFIX and SHAPE plus static word vectors distilled from
the teacher's encoder, ``spacy_kd.distillation.vectors``, and a maxout window
encoder), mean and max pooled per doc, into a linear layer and a softmax or sigmoid.

``spacy-kd.LowerStaticVectorsEmbed.v1`` is spaCy's MultiHashEmbed.v2 with static
vectors, except that the vectors are looked up by a token's LOWER form (a setting of
the layer, saved with it). spaCy 3.8 cannot do that itself: StaticVectors ignores its
``key_attr`` (warning W125) and reads the table's ``attr``, which a default-mode
table does not keep (``Vectors.to_disk`` writes only the mode, and
``Vocab.deduplicate_vectors``, run by ``spacy init vectors``, drops it), so a reloaded
pipeline would look its vectors up by ORTH. A word without a row gets zeros.

``spacy-kd.TfidfVectorCNN.v1`` combines the two as spaCy's TextCatEnsemble combines
its BOW and CNN models, but on logits: the TF-IDF branch's sparse-linear logits plus
the CNN branch's linear logits, through one softmax or sigmoid.

``spacy-kd.TfidfMeanVectors.v1`` is the cheap way to the teacher's vectors: the
TF-IDF branch's logits plus a linear function of each doc's mean static vector (no
window layer, no hash embeddings), for where the CNN is too slow.

Each ends in a ``softmax_activation`` / ``sigmoid_activation`` layer, so
``spacy_kd.distillation.logits`` trains them on logits (the layer before it).
"""

from typing import Callable, List, Optional, Tuple, Union, cast

from spacy.attrs import intify_attr
from spacy.ml.featureextractor import FeatureExtractor
from spacy.tokens import Doc
from spacy.vectors import Mode, Vectors
from thinc.api import (
    HashEmbed,
    Linear,
    Maxout,
    Model,
    SparseLinear_v2,
    add,
    chain,
    concatenate,
    glorot_uniform_init,
    list2ragged,
    ragged2list,
    reduce_mean,
    sigmoid_activation,
    softmax_activation,
    with_array,
    zero_init,
)
from thinc.types import Floats1d, Floats2d, Ints1d, Ragged

from spacy_kd.teachers.tfidf import NAME_V2, build_tfidf_ngrams_v2


def build_tfidf_linear(
    tfidf: Optional[Model] = None,
    exclusive_classes: bool = True,
    length: int = 2**18,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """A linear classifier over TF-IDF n-grams.

    tfidf: a ``spacy-kd.TfidfNgrams.v2`` layer (default: unigrams of LOWER).
    length: rows of the sparse weight table (hashed n-grams share rows beyond it).
    """
    tfidf = _checked_tfidf(tfidf, "TfidfLinear")
    linear = _sparse_linear(length, nO)
    model = chain(tfidf, linear, _activation(exclusive_classes))
    model.set_ref("tfidf", tfidf)
    model.set_ref("output_layer", linear)
    model.attrs["multi_label"] = not exclusive_classes
    if nO is not None:
        model.set_dim("nO", nO)
    return model


def build_vector_cnn(
    tok2vec: Model[List[Doc], List[Floats2d]],
    exclusive_classes: bool = True,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """A CNN text classifier: ``tok2vec``, mean and max pooled, a linear layer and a
    softmax (exclusive classes) or a sigmoid (multi-label).

    tok2vec: e.g. spacy.Tok2Vec.v2 with spacy-kd.LowerStaticVectorsEmbed.v1 and
    spacy.MaxoutWindowEncoder.v2 (configs/student_vectors_cnn.cfg).
    """
    linear = Linear(nO=nO, init_W=zero_init)
    model = chain(_pooled(tok2vec), linear, _activation(exclusive_classes))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", linear)
    model.attrs["multi_label"] = not exclusive_classes
    if nO is not None:
        model.set_dim("nO", nO)
    return model


def build_tfidf_vector_cnn(
    tok2vec: Model[List[Doc], List[Floats2d]],
    tfidf: Optional[Model] = None,
    exclusive_classes: bool = True,
    length: int = 2**18,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """TF-IDF logits plus CNN logits, through one softmax or sigmoid.

    tfidf: a ``spacy-kd.TfidfNgrams.v2`` layer (default: unigrams of LOWER); its IDF
    is fitted when the component initializes, as in TfidfLinear.
    length: rows of the TF-IDF branch's sparse weight table.
    """
    tfidf = _checked_tfidf(tfidf, "TfidfVectorCNN")
    sparse = _sparse_linear(length, nO)
    linear = Linear(nO=nO, init_W=zero_init)
    bow = cast(Model[List[Doc], Floats2d], chain(tfidf, sparse))
    cnn = cast(Model[List[Doc], Floats2d], chain(_pooled(tok2vec), linear))
    return _summed_logits(
        bow, cnn, exclusive_classes, nO,
        tok2vec=tok2vec, tfidf=tfidf, tfidf_output=sparse, cnn_output=linear,
    )  # fmt: skip


def build_tfidf_mean_vectors(
    tfidf: Optional[Model] = None,
    exclusive_classes: bool = True,
    length: int = 2**18,
    key_attr: str = "LOWER",
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """TF-IDF logits plus a linear function of the doc's mean static vector, through
    one softmax or sigmoid: TF-IDF + logistic regression with the teacher-distilled
    vectors as extra features (model2vec's classifier beside the TF-IDF one).

    No window layer and no hash embeddings: a token costs a row lookup and a
    (n_labels x width) product, so the model runs near the tokenizer's speed on any
    doc length, where the CNN's cost grows with its width and depth. A word without
    a vector adds zeros to the mean.
    key_attr: the token attribute the vectors table is keyed by.
    """
    tfidf = _checked_tfidf(tfidf, "TfidfMeanVectors")
    sparse = _sparse_linear(length, nO)
    vectors = static_vectors(nO, key_attr=key_attr)
    bow = cast(Model[List[Doc], Floats2d], chain(tfidf, sparse))
    mean = cast(Model[List[Doc], Floats2d], chain(vectors, reduce_mean()))
    return _summed_logits(
        bow, mean, exclusive_classes, nO,
        tfidf=tfidf, tfidf_output=sparse, vectors_output=vectors,
    )  # fmt: skip


def _summed_logits(
    a: Model[List[Doc], Floats2d],
    b: Model[List[Doc], Floats2d],
    exclusive_classes: bool,
    nO: Optional[int],
    **refs: Model,
) -> Model[List[Doc], Floats2d]:
    """Two branches' logits added, through one softmax or sigmoid, with ``refs``
    set on the model. Its ``output_layer`` is the sum (spaCy's ensembles name a
    branch's layer; here neither branch's alone is the output)."""
    logits = add(a, b)
    model = chain(logits, _activation(exclusive_classes))
    for name, layer in refs.items():
        model.set_ref(name, layer)
    model.set_ref("output_layer", logits)
    model.attrs["multi_label"] = not exclusive_classes
    if nO is not None:
        model.set_dim("nO", nO)
    return model


def _checked_tfidf(tfidf: Optional[Model], architecture: str) -> Model:
    if tfidf is None:
        tfidf = build_tfidf_ngrams_v2()
    if tfidf.name != NAME_V2:
        raise ValueError(
            f"{architecture} needs a spacy-kd.TfidfNgrams.v2 layer (IDF fitted at "
            f"initialize), got {tfidf.name!r}"
        )
    return tfidf


def _sparse_linear(length: int, nO: Optional[int]) -> Model:
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    return SparseLinear_v2(nO=nO, length=length)


def _pooled(tok2vec: Model[List[Doc], List[Floats2d]]) -> Model[List[Doc], Floats2d]:
    """Each doc's token vectors, mean and max pooled (concatenated)."""
    return chain(tok2vec, list2ragged(), mean_max_pool())


def mean_max_pool() -> Model[Ragged, Floats2d]:
    """The mean and the max of each sequence's rows, concatenated: thinc's
    ``concatenate(reduce_mean(), reduce_max())``, except that an empty sequence (an
    empty doc) pools to zeros where thinc's reduce_max refuses the whole batch."""
    return Model("mean_max_pool", _mean_max_forward)


def _mean_max_forward(
    model: Model[Ragged, Floats2d], Xr: Ragged, is_train: bool
) -> Tuple[Floats2d, Callable]:
    ops = model.ops
    X = cast(Floats2d, Xr.data)
    lengths = Xr.lengths
    width = X.shape[1]
    mean = ops.reduce_mean(X, lengths)
    full = ops.xp.asarray(lengths > 0)
    maxed = ops.alloc2f(len(lengths), width)
    which = None
    if bool(full.any()):
        maxed[full], which = ops.reduce_max(X, lengths[full])
    Y = ops.xp.hstack((mean, maxed))

    def backprop(dY: Floats2d) -> Ragged:
        dX = ops.backprop_reduce_mean(ops.as_contig(dY[:, :width]), lengths)
        if which is not None:
            d_max = ops.as_contig(dY[full, width:])
            dX += ops.backprop_reduce_max(d_max, which, lengths[full])
        return Ragged(dX, lengths)

    return Y, backprop


def _activation(exclusive_classes: bool) -> Model[Floats2d, Floats2d]:
    return softmax_activation() if exclusive_classes else sigmoid_activation()


def build_lower_static_vectors_embed(
    width: int,
    attrs: List[Union[str, int]],
    rows: List[int],
    key_attr: str = "LOWER",
) -> Model[List[Doc], List[Floats2d]]:
    """spacy.MultiHashEmbed.v2 with ``include_static_vectors = true`` (the same
    hash embeddings, seeds and maxout), the static vectors looked up by
    ``key_attr`` of each token.

    width: output width, and width of every embedding table.
    attrs, rows: the hashed attributes and the rows of each one's table.
    key_attr: the token attribute the vectors table is keyed by.
    """
    if len(rows) != len(attrs):
        raise ValueError(f"Mismatched lengths: {len(rows)} vs {len(attrs)}")
    embeddings: List[Model[Ints1d, Floats2d]] = [
        HashEmbed(width, n_rows, column=i, seed=8 + i, dropout=0.0)
        for i, n_rows in enumerate(rows)
    ]
    hashed = cast(
        Model[List[Doc], Ragged],
        chain(
            FeatureExtractor(attrs), list2ragged(), with_array(concatenate(*embeddings))
        ),
    )
    concat_size = width * (len(embeddings) + 1)
    embed = concatenate(hashed, static_vectors(width, key_attr=key_attr))
    return chain(
        embed,
        with_array(Maxout(width, concat_size, nP=3, dropout=0.0, normalize=True)),
        ragged2list(),
    )


# rows of the vectors table gathered at once by static_vectors (4 MB at 256 dims)
VECTOR_CHUNK = 4096


def static_vectors(
    nO: Optional[int] = None, *, key_attr: str = "LOWER", dropout: float = 0.0
) -> Model[List[Doc], Ragged]:
    """spaCy's StaticVectors, the rows found by the tokens' ``key_attr``: each
    token's vector (zeros where the table has none) times a learned projection."""
    if intify_attr(key_attr) is None:
        raise ValueError(f"unknown token attribute {key_attr!r} for the vectors")
    return Model(
        "static_vectors_by_attr",
        _static_vectors_forward,
        init=_static_vectors_init,
        params={"W": None},
        attrs={"key_attr": key_attr, "dropout_rate": dropout},
        dims={"nO": nO, "nM": None},
    )


def _static_vectors_forward(
    model: Model[List[Doc], Ragged], docs: List[Doc], is_train: bool
) -> Tuple[Ragged, Callable]:
    ops = model.ops
    lengths = ops.asarray1i([len(doc) for doc in docs])
    if not sum(len(doc) for doc in docs):
        empty = Ragged(ops.alloc2f(0, model.get_dim("nO")), lengths)
        return empty, lambda d_ragged: []
    table = _vectors_table(docs[0].vocab.vectors)
    attr = intify_attr(model.attrs["key_attr"])
    keys = ops.flatten([cast(Ints1d, doc.to_array(attr)) for doc in docs])
    found = ops.asarray(table.find(keys=keys))
    data = cast(Floats2d, ops.asarray(table.data))
    W = cast(Floats2d, ops.as_contig(model.get_param("W")))
    # the tokens' vectors are gathered VECTOR_CHUNK rows at a time and never kept
    # whole: a batch of long docs would otherwise hold n_tokens x width floats
    # (256 docs of 20 Newsgroups: about 70 MB at 256 dims); backprop gathers again
    Y = ops.alloc2f(len(found), W.shape[0])
    for start in range(0, len(found), VECTOR_CHUNK):
        end = start + VECTOR_CHUNK
        Y[start:end] = ops.gemm(_vector_rows(data, found[start:end]), W, trans2=True)
    rate = model.attrs["dropout_rate"]
    mask = None
    if is_train and rate:
        mask = cast(Floats1d, ops.get_dropout_mask((W.shape[0],), rate))
    if mask is not None:
        Y *= mask

    def backprop(dY: Ragged) -> List[Doc]:
        d = cast(Floats2d, dY.data)
        if mask is not None:
            d = d * mask
        dW = ops.alloc2f(*W.shape)
        for start in range(0, len(found), VECTOR_CHUNK):
            end = start + VECTOR_CHUNK
            V = _vector_rows(data, found[start:end])
            dW += ops.gemm(ops.as_contig(d[start:end]), V, trans1=True)
        model.inc_grad("W", dW)
        return []

    return Ragged(Y, lengths), backprop


def _vector_rows(data: Floats2d, found: Ints1d) -> Floats2d:
    """The table's rows ``found`` (a copy), zeros where a token has none (-1)."""
    V = data[found]
    V[found < 0] = 0
    return V


def _vectors_table(vectors) -> Vectors:
    if not isinstance(vectors, Vectors) or vectors.mode != Mode.default:
        raise ValueError(
            "static vectors by attribute need a default-mode spaCy vectors table "
            "(spacy init vectors without --mode floret)"
        )
    if vectors.shape[1] == 0:
        raise ValueError(
            "the pipeline has no word vectors: set [initialize] vectors (the "
            "students' configs take --paths.vectors, e.g. distill-vectors' spacy/)"
        )
    return vectors


def _static_vectors_init(
    model: Model[List[Doc], Ragged],
    X: Optional[List[Doc]] = None,
    Y: Optional[Ragged] = None,
) -> None:
    if X is not None and len(X):
        model.set_dim("nM", _vectors_table(X[0].vocab.vectors).shape[1])
    if Y is not None:
        model.set_dim("nO", Y.data.shape[1])
    if not model.has_dim("nM") or not model.has_dim("nO"):
        raise ValueError("static vectors: nM and nO are needed to initialize")
    shape = (model.get_dim("nO"), model.get_dim("nM"))
    model.set_param("W", glorot_uniform_init(model.ops, shape))
