"""Logits of spaCy's textcat architectures, and gradients that reach the right weights.

For each stock architecture (both output-layer kinds, exclusive and multi-label)
the logits must reproduce the model's own predictions, and the gradient that
``logits_forward``'s backprop leaves on the final layer's bias must equal a
finite difference of the loss computed from the model's predictions.
"""

import numpy
import pytest
import spacy
from spacy.util import registry
from thinc.api import Config, Linear, Relu, chain, set_dropout_rate

from spacy_kd.distillation.logits import (
    SIGMOID_ACTIVATION,
    SOFTMAX_ACTIVATION,
    SOFTMAX_LAYER,
    UnsupportedModelError,
    logits_forward,
    output_kind,
)
from spacy_kd.distillation.losses import distill_loss, gold_loss

TOK2VEC = """
[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 8
attrs = ["NORM", "PREFIX"]
rows = [50, 20]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 8
window_size = 1
maxout_pieces = 2
depth = 1
"""

ARCHITECTURES = {
    "bow": """
[model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = {exclusive}
ngram_size = 2
no_output_layer = false
length = 1024
nO = 3
""",
    "reduce": """
[model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = {exclusive}
use_reduce_first = true
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true
nO = 3
"""
    + TOK2VEC,
    "cnn_v2": """
[model]
@architectures = "spacy.TextCatCNN.v2"
exclusive_classes = {exclusive}
nO = 3
"""
    + TOK2VEC,
    "ensemble": """
[model]
@architectures = "spacy.TextCatEnsemble.v2"
nO = null

[model.linear_model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = {exclusive}
ngram_size = 1
no_output_layer = false
length = 1024
"""
    + TOK2VEC,
    "attention": """
[model]
@architectures = "spacy.TextCatParametricAttention.v1"
exclusive_classes = {exclusive}
nO = 3
"""
    + TOK2VEC,
}

EXPECTED_KIND = {
    ("bow", True): SOFTMAX_ACTIVATION,
    ("bow", False): SIGMOID_ACTIVATION,
    ("reduce", True): SOFTMAX_LAYER,
    ("reduce", False): SIGMOID_ACTIVATION,
    ("cnn_v2", True): SOFTMAX_LAYER,
    ("cnn_v2", False): SIGMOID_ACTIVATION,
    ("ensemble", True): SOFTMAX_LAYER,
    ("ensemble", False): SIGMOID_ACTIVATION,
    ("attention", True): SOFTMAX_LAYER,
    ("attention", False): SIGMOID_ACTIVATION,
}

TEXTS = [
    "the rocket reached orbit after a long delay",
    "my graphics card driver crashes on startup",
    "the goalie made forty saves last night",
    "orbit orbit rocket crashes",
]


def build(arch: str, exclusive: bool, seed: int = 0):
    text = ARCHITECTURES[arch].format(exclusive=str(exclusive).lower())
    model = registry.resolve(Config().from_str(text))["model"]
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in TEXTS]
    model.initialize(X=docs, Y=numpy.zeros((len(docs), 3), dtype="f"))
    rng = numpy.random.default_rng(seed)
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                param = node.get_param(name)
                node.set_param(
                    name, rng.normal(0, 0.5, param.shape).astype(param.dtype)
                )
    set_dropout_rate(model, 0.0)
    return model, docs


def final_affine(model):
    """The last layer with W and b on the way to the output."""
    if model.has_param("W") and model.has_param("b"):
        return model
    for layer in reversed(model.layers):
        found = final_affine(layer)
        if found is not None:
            return found
    return None


def loss_from_probs(probs, targets, *, exclusive, T=1.0, distill=False):
    """The loss computed from the model's predictions (float64), not from logits."""
    p = numpy.clip(probs.astype("float64"), 1e-12, 1 - 1e-12)
    if exclusive:
        soft = p ** (1 / T)
        soft /= soft.sum(axis=1, keepdims=True)
        ce = -(targets * numpy.log(soft)).sum()
        return T * T * ce if distill else ce
    logit = numpy.log(p) - numpy.log1p(-p)
    s = 1 / (1 + numpy.exp(-logit / T))
    bce = -(targets * numpy.log(s) + (1 - targets) * numpy.log(1 - s)).sum()
    return T * T * bce if distill else bce


@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_logits_reproduce_predictions(arch, exclusive):
    model, docs = build(arch, exclusive)
    assert output_kind(model) == EXPECTED_KIND[(arch, exclusive)]
    logits, _ = logits_forward(model, docs, is_train=False)
    probs = model.predict(docs)
    z = numpy.asarray(logits, dtype="float64")
    if exclusive:
        want = numpy.exp(z - z.max(axis=1, keepdims=True))
        want /= want.sum(axis=1, keepdims=True)
    else:
        want = 1 / (1 + numpy.exp(-z))
    numpy.testing.assert_allclose(probs, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("distill", [False, True])
@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_gradient_reaches_the_output_weights(arch, exclusive, distill):
    model, docs = build(arch, exclusive, seed=1)
    rng = numpy.random.default_rng(2)
    if exclusive:
        targets = (
            rng.dirichlet(numpy.ones(3), len(docs))
            if distill
            else numpy.eye(3)[[0, 1, 2, 0]]
        )
    else:
        targets = (
            rng.random((len(docs), 3))
            if distill
            else (rng.random((len(docs), 3)) < 0.5) * 1.0
        )
    T = 2.0 if distill else 1.0

    logits, backprop = logits_forward(model, docs, is_train=True)
    if distill:
        _, d = distill_loss(logits, targets, temperature=T, multi_label=not exclusive)
    else:
        _, d = gold_loss(logits, targets, multi_label=not exclusive)
    backprop(model.ops.asarray(d, dtype="f"))
    layer = final_affine(model)
    grad = numpy.asarray(layer.get_grad("b"), dtype="float64").copy()

    b = layer.get_param("b").copy()
    eps = 1e-2
    fd = numpy.zeros_like(grad)
    for k in range(b.shape[0]):
        values = []
        for sign in (1, -1):
            moved = b.copy()
            moved[k] += sign * eps
            layer.set_param("b", moved)
            probs = model.predict(docs)
            values.append(
                loss_from_probs(
                    probs, targets, exclusive=exclusive, T=T, distill=distill
                )
            )
        fd[k] = (values[0] - values[1]) / (2 * eps)
    layer.set_param("b", b)
    numpy.testing.assert_allclose(grad, fd, rtol=5e-3, atol=5e-4)


@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("arch", ["bow", "reduce"])
def test_stock_backprop_is_what_the_output_layer_expects(arch, exclusive):
    """The stock model's own backprop, fed what the output kind expects, gives the
    same weight gradient as the logits path (this is what get_loss returns)."""
    kind = output_kind(build(arch, exclusive)[0])
    targets = numpy.eye(3)[[0, 1, 2, 0]]
    grads = []
    for path in ("logits", "stock"):
        model, docs = build(arch, exclusive, seed=3)
        if path == "logits":
            logits, backprop = logits_forward(model, docs, is_train=True)
            _, d = gold_loss(logits, targets, multi_label=not exclusive)
            backprop(model.ops.asarray(d, dtype="f"))
        else:
            probs, backprop = model.begin_update(docs)
            p = probs.astype("float64")
            if kind == SOFTMAX_LAYER:
                d = p - targets  # this layer's backprop skips the softmax Jacobian
            elif kind == SOFTMAX_ACTIVATION:
                d = -targets / p  # d CE / d p
            else:
                d = (p - targets) / (p * (1 - p))  # d BCE / d p
            backprop(model.ops.asarray(d, dtype="f"))
        grads.append(
            numpy.asarray(final_affine(model).get_grad("b"), dtype="float64").copy()
        )
    numpy.testing.assert_allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_unsupported_output_layer_is_a_clear_error():
    model = chain(Linear(nO=3, nI=4), Relu(nO=3, nI=3))
    with pytest.raises(UnsupportedModelError, match="ends in 'relu'"):
        output_kind(model)
