"""An independent float64 numpy ELMo, computed straight from the hdf5 arrays.

It follows bilm-tf's TensorFlow equations (gate order i, j, f, o with a forget
bias of 1.0; highway ``carry * relu(...) + (1 - carry) * x``), one sentence at a
time, with plain loops: nothing is shared with spacy_kd's torch code.
"""

from typing import Dict, List, Sequence

import numpy

MAX_CHARS = 50


def reference_char_ids(word: str) -> List[int]:
    if word == "<S>":
        raw = [258, 256, 259]
    elif word == "</S>":
        raw = [258, 257, 259]
    else:
        raw = [258] + list(word.encode("utf-8", "ignore")[:48]) + [259]
    raw = raw + [260] * (MAX_CHARS - len(raw))
    return [c + 1 for c in raw]


def sigmoid(x):
    return 1.0 / (1.0 + numpy.exp(-x))


def token_vector(
    word: str, arrays: Dict[str, numpy.ndarray], options: Dict
) -> numpy.ndarray:
    cnn = options["char_cnn"]
    table = numpy.vstack(
        [numpy.zeros((1, arrays["char_embed"].shape[1])), arrays["char_embed"]]
    ).astype(numpy.float64)
    chars = table[reference_char_ids(word)]  # (50, dim)
    pooled = []
    for i, (width, num) in enumerate(cnn["filters"]):
        w = arrays[f"CNN/W_cnn_{i}"][0].astype(numpy.float64)  # (width, dim, num)
        b = arrays[f"CNN/b_cnn_{i}"].astype(numpy.float64)
        best = numpy.full(num, -numpy.inf)
        for p in range(MAX_CHARS - width + 1):
            value = b.copy()
            for k in range(width):
                value += chars[p + k] @ w[k]
            best = numpy.maximum(best, value)
        pooled.append(
            numpy.tanh(best) if cnn["activation"] == "tanh" else numpy.maximum(best, 0)
        )
    x = numpy.concatenate(pooled)
    for k in range(cnn["n_highway"]):
        h = {name: arrays[f"CNN_high_{k}/{name}"].astype(numpy.float64) for name in
             ("W_carry", "b_carry", "W_transform", "b_transform")}  # fmt: skip
        carry = sigmoid(x @ h["W_carry"] + h["b_carry"])
        transform = numpy.maximum(x @ h["W_transform"] + h["b_transform"], 0)
        x = carry * transform + (1 - carry) * x
    return (
        x @ arrays["CNN_proj/W_proj"].astype(numpy.float64) + arrays["CNN_proj/b_proj"]
    )


def run_lstm(inputs: numpy.ndarray, prefix: str, arrays, options) -> numpy.ndarray:
    lstm = options["lstm"]
    w = arrays[f"{prefix}/W_0"].astype(numpy.float64)
    b = arrays[f"{prefix}/B"].astype(numpy.float64)
    wp = arrays[f"{prefix}/W_P_0"].astype(numpy.float64)
    cell = lstm["dim"]
    h = numpy.zeros(lstm["projection_dim"])
    c = numpy.zeros(cell)
    out = []
    for x in inputs:
        z = numpy.concatenate([x, h]) @ w + b
        i, j, f, o = (z[k * cell : (k + 1) * cell] for k in range(4))
        c = sigmoid(f + 1.0) * c + sigmoid(i) * numpy.tanh(j)
        if lstm.get("cell_clip"):
            c = numpy.clip(c, -lstm["cell_clip"], lstm["cell_clip"])
        h = (sigmoid(o) * numpy.tanh(c)) @ wp
        if lstm.get("proj_clip"):
            h = numpy.clip(h, -lstm["proj_clip"], lstm["proj_clip"])
        out.append(h)
    return numpy.array(out)


def reference_layers(
    tokens: Sequence[str], arrays: Dict[str, numpy.ndarray], options: Dict
) -> numpy.ndarray:
    """``(n_layers + 1, len(tokens) + 2, 2 * projection_dim)`` with <S> and </S>."""
    words = ["<S>", *tokens, "</S>"]
    x = numpy.array([token_vector(word, arrays, options) for word in words])
    layers = [numpy.concatenate([x, x], axis=1)]
    fwd_in, bwd_in = x, x[::-1]
    for layer in range(options["lstm"]["n_layers"]):
        fwd = run_lstm(
            fwd_in, f"RNN_0/RNN/MultiRNNCell/Cell{layer}/LSTMCell", arrays, options
        )
        bwd = run_lstm(
            bwd_in, f"RNN_1/RNN/MultiRNNCell/Cell{layer}/LSTMCell", arrays, options
        )
        if layer > 0 and options["lstm"].get("use_skip_connections"):
            fwd, bwd = fwd + fwd_in, bwd + bwd_in
        layers.append(numpy.concatenate([fwd, bwd[::-1]], axis=1))
        fwd_in, bwd_in = fwd, bwd
    return numpy.array(layers)
