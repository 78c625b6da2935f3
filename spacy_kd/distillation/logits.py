"""The logits of spaCy's textcat models, and how a gradient on them reaches the weights.

spaCy's textcat architectures end in one of two kinds of output layer, and their
``backprop`` expects different things:

* an activation layer (``softmax_activation`` in TextCatBOW, ``Logistic`` /
  ``sigmoid_activation`` in every multi-label model): a plain activation whose
  backprop applies its Jacobian, so it wants ``d loss / d probabilities``;
* thinc's ``Softmax`` / ``Softmax_v2`` layer (TextCatReduce, TextCatCNN,
  TextCatEnsemble, TextCatParametricAttention with exclusive classes): an affine
  layer *and* a softmax whose backprop skips the softmax Jacobian, so it wants
  ``d loss / d logits`` (it was written for ``probs - truth``).

``logits_forward`` runs a model up to its logits: it skips a final activation
layer, or recomputes the affine part of a final ``Softmax`` layer, and returns a
backprop that takes ``d loss / d logits`` and sends the right thing into the
model. The losses can then be written once, on logits, and be exact (and
numerically stable: no division by ``p (1 - p)``) whatever the architecture.
"""

import importlib
from typing import Any, Callable, List, Tuple

from thinc.api import Model
from thinc.types import Floats2d

# ``thinc.layers`` re-exports each layer's builder under its module's name, so the
# modules (and their ``forward`` functions) are imported by their full names.
chain_module = importlib.import_module("thinc.layers.chain")
logistic_module = importlib.import_module("thinc.layers.logistic")
resizable_module = importlib.import_module("thinc.layers.resizable")
sigmoid_module = importlib.import_module("thinc.layers.sigmoid_activation")
softmax_module = importlib.import_module("thinc.layers.softmax")
softmax_activation_module = importlib.import_module("thinc.layers.softmax_activation")
with_cpu_module = importlib.import_module("thinc.layers.with_cpu")

# What the model's own output layer expects as its incoming gradient.
SOFTMAX_LAYER = "softmax_layer"  # d loss / d logits
SOFTMAX_ACTIVATION = "softmax_activation"  # d loss / d probabilities
SIGMOID_ACTIVATION = "sigmoid_activation"  # d loss / d probabilities

_ACTIVATIONS = {
    softmax_activation_module.forward: SOFTMAX_ACTIVATION,
    logistic_module.forward: SIGMOID_ACTIVATION,
    sigmoid_module.forward: SIGMOID_ACTIVATION,
}


class UnsupportedModelError(ValueError):
    """A textcat model whose output layer we cannot split into logits + activation."""


def output_kind(model: Model) -> str:
    """How the model's output is produced: SOFTMAX_LAYER, SOFTMAX_ACTIVATION or
    SIGMOID_ACTIVATION. Raises UnsupportedModelError for anything else."""
    node = model
    path = [node.name]
    while True:
        if node._func is chain_module.forward:
            node = node.layers[-1]
        elif node._func in (with_cpu_module.forward, resizable_module.forward):
            node = node.layers[0]
        elif node._func in _ACTIVATIONS:
            return _ACTIVATIONS[node._func]
        elif node._func is softmax_module.forward:
            return SOFTMAX_LAYER
        else:
            raise UnsupportedModelError(
                f"cannot find the output layer of the textcat model '{model.name}': it "
                f"ends in '{node.name}' (path: {' -> '.join(path)}). The student "
                "supports spaCy's textcat architectures, which end in thinc's "
                "Softmax, softmax_activation, Logistic or sigmoid_activation."
            )
        path.append(node.name)


def logits_forward(
    model: Model, X: Any, is_train: bool
) -> Tuple[Floats2d, Callable[[Floats2d], Any]]:
    """Run ``model`` on ``X`` up to its logits.

    Returns the logits and a backprop that takes ``d loss / d logits``. The
    model's predictions are ``softmax(logits)`` or ``sigmoid(logits)``, exactly
    as ``model.predict`` computes them.
    """
    output_kind(model)  # raise early, with the path, for an unsupported model
    return _forward(model, X, is_train)


def _forward(model: Model, X: Any, is_train: bool) -> Tuple[Floats2d, Callable]:
    func = model._func
    if func is chain_module.forward:
        callbacks: List[Callable] = []
        for layer in model.layers[:-1]:
            X, backprop = layer(X, is_train=is_train)
            callbacks.append(backprop)
        Z, backprop_last = _forward(model.layers[-1], X, is_train)

        def backprop_chain(dZ: Floats2d) -> Any:
            dX = backprop_last(dZ)
            for callback in reversed(callbacks):
                dX = callback(dX)
            return dX

        return Z, backprop_chain
    if func is with_cpu_module.forward:
        Z, backprop_inner = _forward(
            model.layers[0], with_cpu_module._to_cpu(X), is_train
        )
        Z = with_cpu_module._to_device(model.ops, Z)

        def backprop_with_cpu(dZ: Floats2d) -> Any:
            return backprop_inner(with_cpu_module._to_cpu(dZ))

        return Z, backprop_with_cpu
    if func is resizable_module.forward:
        return _forward(model.layers[0], X, is_train)
    if func in _ACTIVATIONS:
        # The logits are the activation's input: skip the layer altogether.
        return X, _identity
    if func is softmax_module.forward:
        return _softmax_layer_logits(model, X, is_train)
    raise UnsupportedModelError(f"unsupported output layer '{model.name}'")


def _softmax_layer_logits(model: Model, X: Floats2d, is_train: bool):
    """thinc's Softmax layer: ``softmax(affine(X) / t)``.

    Its backprop wants d/d(affine / t).

    We run the layer itself (so its weights get their gradients through its own
    backprop) and recompute its logits ``affine(X) / t`` beside it.
    """
    _, backprop = model(X, is_train=is_train)
    temperature = model.attrs.get("softmax_temperature", 1.0)
    Z = model.ops.affine(X, model.get_param("W"), model.get_param("b"))
    if temperature != 1.0:
        Z = Z / temperature
    return Z, backprop


def _identity(d: Floats2d) -> Floats2d:
    return d
