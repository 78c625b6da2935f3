"""Frozen encoders with a per-text feature cache, and pooling of transformer output.

A frozen encoder's output for a text never changes, so ``spacy-kd.FrozenCached.v1``
runs it once per distinct text and serves every later epoch (and every dev
evaluation) from memory; gradients stop at this layer, so the encoder's weights are
never updated. The cache is per process and is not saved with the pipeline.

The cache is on only in a process that trains the model: it starts with the first
training update (``begin_update``), which ``spacy train`` makes before its first dev
evaluation. A pipeline loaded to predict (an app, ``annotate``, ``spacy apply``,
``spacy_kd evaluate``) encodes every doc it is given and keeps nothing, so its
speed and memory are those of the real encoder, not of a lookup table.
"""

from typing import Callable, Dict, List, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

from spacy_kd.teachers._state import ModelState, dict_state

_CACHES = dict_state()
# whether this process has trained the model; transient (thinc saves model.attrs)
_TRAINING = ModelState(lambda: {"on": False})


def build_frozen_cached(
    encoder: Model[List[Doc], Floats2d], max_entries: int = 50_000
) -> Model[List[Doc], Floats2d]:
    """Wrap a doc encoder so it runs without gradients, once per distinct text.

    max_entries: cache size bound (training sets and dev sets fit; a large corpus
    being annotated does not need the cache); past it, new texts are encoded but
    not stored. 0 turns the cache off: every doc is encoded, nothing is hashed or
    kept. Only a process that trains the model fills the cache: a loaded pipeline
    (``annotate``, ``evaluate``, an app) encodes every doc.
    """
    return Model(
        "frozen_cached",
        _forward,
        init=_init,
        layers=[encoder],
        attrs={"max_entries": max_entries},
        dims={"nO": None},
    )


def _init(model: Model, X=None, Y=None) -> Model:
    encoder = model.layers[0]
    encoder.initialize(X=X)
    if encoder.has_dim("nO") and encoder.get_dim("nO") is not None:
        model.set_dim("nO", encoder.get_dim("nO"))
    elif X is not None:
        model.set_dim("nO", encoder.predict(X[:1]).shape[1])
    return model


def cache_of(model: Model) -> Dict[int, numpy.ndarray]:
    """The feature cache of a ``frozen_cached`` layer (text hash -> vector)."""
    return _CACHES.get(model.id)


def _forward(
    model: Model, docs: List[Doc], is_train: bool
) -> Tuple[Floats2d, Callable]:
    training = _TRAINING.get(model.id)
    if is_train:
        training["on"] = True
    if model.attrs["max_entries"] <= 0 or not training["on"]:
        out = model.layers[0].predict(docs)
        return out, lambda dY: []
    cache = cache_of(model)
    keys = [hash(doc.text) for doc in docs]
    missing = [i for i, key in enumerate(keys) if key not in cache]
    fresh: Dict[int, numpy.ndarray] = {}
    if missing:
        # dedupe texts within the batch too
        first: Dict[int, int] = {}
        for i in missing:
            first.setdefault(keys[i], i)
        order = list(first.values())
        encoded = model.ops.to_numpy(model.layers[0].predict([docs[i] for i in order]))
        for i, row in zip(order, encoded):
            fresh[keys[i]] = numpy.asarray(row, dtype="float32")
        if len(cache) + len(fresh) <= model.attrs["max_entries"]:
            cache.update(fresh)
    rows = [cache[k] if k in cache else fresh[k] for k in keys]
    if rows:
        out = model.ops.asarray2f(numpy.stack(rows))
    else:
        width = model.get_dim("nO") if model.has_dim("nO") else 0
        out = model.ops.alloc2f(0, width or 0)

    def backprop(dY: Floats2d) -> List[Doc]:
        return []

    return out, backprop


def build_trf_pooler(pooling: str = "mean", normalize: bool = True) -> Model:
    """Pool a spacy-transformers ``FullTransformerBatch`` into one vector per doc.

    Mean (or max) over every real wordpiece of every span of the doc (the strided
    spans cover the whole doc), then optionally L2-normalised.
    """
    if pooling not in ("mean", "max", "cls"):
        raise ValueError(f"pooling must be 'mean', 'max' or 'cls', got {pooling!r}")

    def forward(model: Model, trf, is_train: bool):
        vectors = []
        for data in trf.doc_data:
            hidden = model.ops.to_numpy(data.model_output.last_hidden_state)
            mask = model.ops.to_numpy(data.wordpieces.attention_mask).astype(bool)
            if hidden.size == 0 or not mask.any():
                vectors.append(numpy.zeros((hidden.shape[-1],), dtype="float32"))
                continue
            if pooling == "cls":
                vec = hidden[:, 0].mean(axis=0)
            elif pooling == "mean":
                vec = hidden[mask].mean(axis=0)
            else:
                vec = hidden[mask].max(axis=0)
            if normalize:
                vec = vec / max(float(numpy.linalg.norm(vec)), 1e-12)
            vectors.append(vec.astype("float32"))
        out = (
            model.ops.asarray2f(numpy.stack(vectors))
            if vectors
            else model.ops.alloc2f(0, 0)
        )

        def backprop(dY):
            raise NotImplementedError("trf_pooler is for frozen encoders only")

        return out, backprop

    return Model(
        "trf_pooler", forward, attrs={"pooling": pooling, "normalize": normalize}
    )
