"""Doc vectors from a frozen tok2vec: pooled once per text, then a learned scalar mix.

``spacy-kd.FrozenPooledTok2Vec.v1`` mean-pools a frozen tok2vec's token vectors per
doc and caches the result (``spacy-kd.FrozenCached.v1``). When the tok2vec returns
several layers side by side (ELMo with ``representation = "concat"``), ``mix_layers``
adds ELMo's learned scalar mix on the pooled layers: ``gamma * sum_j softmax(s)_j
mean(h_j)``. Mean pooling is linear, so this equals pooling the scalar mix of the
token vectors, while the frozen biLM still runs only once per text.
"""

from typing import Callable, List, Tuple

from spacy.tokens import Doc
from thinc.api import Model, chain, list2ragged, reduce_mean
from thinc.types import Floats2d

from spacy_kd.teachers.frozen import build_frozen_cached


def build_frozen_pooled_tok2vec(
    tok2vec: Model[List[Doc], List[Floats2d]],
    mix_layers: int = 0,
    normalize: bool = True,
) -> Model[List[Doc], Floats2d]:
    """Mean-pooled, cached vectors of a frozen tok2vec; optionally a scalar mix.

    mix_layers: the number of equal-width layers concatenated in each token vector
    (ELMo "concat": 1 + the LSTM layers); 0 or 1 means no mix.
    normalize: L2-normalise each layer's pooled vector (before the mix), so that
    the dense evidence does not drown the sparse TF-IDF evidence in the head.
    """
    layers = []
    if normalize:
        layers.append(build_layer_l2_norm(max(mix_layers, 1)))
    pooled = build_frozen_cached(chain(tok2vec, list2ragged(), reduce_mean(), *layers))
    if mix_layers <= 1:
        return pooled
    return chain(pooled, build_scalar_mix(mix_layers))


def build_layer_l2_norm(n_layers: int) -> Model[Floats2d, Floats2d]:
    """L2-normalise each of ``n_layers`` equal slices of every row (no parameters)."""

    def forward(model: Model, X: Floats2d, is_train: bool) -> Tuple[Floats2d, Callable]:
        layers = X.reshape((X.shape[0], n_layers, -1))
        norms = model.ops.xp.sqrt((layers * layers).sum(axis=2, keepdims=True))
        Y = (layers / model.ops.xp.maximum(norms, 1e-12)).reshape(X.shape)

        def backprop(dY: Floats2d) -> Floats2d:
            raise NotImplementedError("layer_l2_norm is used under a frozen cache only")

        return Y, backprop

    return Model("layer_l2_norm", forward, attrs={"n_layers": n_layers})


def build_scalar_mix(n_layers: int) -> Model[Floats2d, Floats2d]:
    """``gamma * sum_j softmax(s)_j X_j`` over ``n_layers`` equal slices of the
    input."""
    return Model(
        "pooled_scalar_mix",
        _mix_forward,
        init=_mix_init,
        params={"s": None, "gamma": None},
        dims={"nI": None, "nO": None},
        attrs={"n_layers": n_layers},
    )


def _mix_init(model: Model, X=None, Y=None) -> Model:
    n_layers = model.attrs["n_layers"]
    if X is not None:
        width = X.shape[1]
        if width % n_layers:
            raise ValueError(
                f"pooled_scalar_mix: input width {width} is not a multiple of "
                f"{n_layers} layers"
            )
        model.set_dim("nI", width)
        model.set_dim("nO", width // n_layers)
    model.set_param("s", model.ops.alloc1f(n_layers))
    gamma = model.ops.alloc1f(1)
    gamma[0] = 1.0
    model.set_param("gamma", gamma)
    return model


def _mix_forward(
    model: Model, X: Floats2d, is_train: bool
) -> Tuple[Floats2d, Callable]:
    n_layers = model.attrs["n_layers"]
    layers = X.reshape((X.shape[0], n_layers, -1))
    s = model.get_param("s")
    gamma = float(model.get_param("gamma")[0])
    w = model.ops.softmax(s)
    mixed = (layers * w[None, :, None]).sum(axis=1)
    Y = gamma * mixed

    def backprop(dY: Floats2d) -> Floats2d:
        d_w = gamma * (layers * dY[:, None, :]).sum(axis=(0, 2))
        model.inc_grad("s", w * (d_w - (w * d_w).sum()))
        model.inc_grad("gamma", model.ops.asarray1f([(dY * mixed).sum()]))
        dX = gamma * w[None, :, None] * dY[:, None, :]
        return dX.reshape(X.shape)

    return Y, backprop
