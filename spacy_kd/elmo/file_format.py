"""Read and write ELMo's ``options.json`` + ``weights.hdf5`` in allennlp's layout.

Datasets (TensorFlow layouts, as bilm-tf dumps them and allennlp reads them)::

    char_embed                      (n_characters - 1, char_dim)  no padding row
    CNN/W_cnn_{i}, CNN/b_cnn_{i}    (1, width, char_dim, n), (n,)
    CNN_high_{k}/W_transform, b_transform, W_carry, b_carry   (d, d), (d,)
    CNN_proj/W_proj, b_proj         (n_filters, projection_dim), (projection_dim,)
    RNN_{dir}/RNN/MultiRNNCell/Cell{layer}/LSTMCell/
        W_0   (input + projection, 4 * cell)  gates i, j (candidate), f, o
        B     (4 * cell,)                     forget bias without TF's +1.0
        W_P_0 (cell, projection)

Every conversion is a transpose, a block permutation or a negation, so a
module -> file -> module round trip is bit-identical.
"""

from pathlib import Path
from typing import Dict, Tuple, Union, cast

import numpy
import torch

from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.errors import DataError
from spacy_kd.util import atomic_path, write_json_atomic

PathLike = Union[str, Path]
OPTIONS_FILE = "options.json"
WEIGHTS_FILE = "weights.hdf5"


def _lstm_prefix(direction: int, layer: int) -> str:
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def _swap_gates(w: numpy.ndarray, cell: int) -> numpy.ndarray:
    """Swap the 2nd and 3rd gate blocks (TF: i, j, f, o <-> torch: i, f, j, o)."""
    out = w.copy()
    out[cell : 2 * cell] = w[2 * cell : 3 * cell]
    out[2 * cell : 3 * cell] = w[cell : 2 * cell]
    return out


def bilm_to_arrays(bilm: ElmoBiLm) -> Dict[str, numpy.ndarray]:
    """The weights of a biLM as allennlp's hdf5 datasets (float32 numpy arrays)."""
    opts = bilm.options

    def arr(t: torch.Tensor) -> numpy.ndarray:
        return t.detach().cpu().to(torch.float32).numpy().copy()

    enc = bilm.token_embedder
    out: Dict[str, numpy.ndarray] = {"char_embed": arr(enc.char_embedding.weight)[1:]}
    for i, conv in enumerate(enc.conv_layers()):
        # torch (n, char_dim, width) -> tf (1, width, char_dim, n)
        out[f"CNN/W_cnn_{i}"] = numpy.transpose(arr(conv.weight), (2, 1, 0))[None]
        out[f"CNN/b_cnn_{i}"] = arr(cast(torch.Tensor, conv.bias))
    d = opts.n_filters
    for k, layer in enumerate(enc.highway.linears()):
        w, b = arr(layer.weight), arr(layer.bias)
        out[f"CNN_high_{k}/W_transform"] = w[:d].T.copy()
        out[f"CNN_high_{k}/b_transform"] = b[:d]
        # allennlp gates the input with g, TF gates the transform with 1 - g
        out[f"CNN_high_{k}/W_carry"] = -w[d:].T
        out[f"CNN_high_{k}/b_carry"] = -b[d:]
    out["CNN_proj/W_proj"] = arr(enc.projection.weight).T.copy()
    out["CNN_proj/b_proj"] = arr(enc.projection.bias)
    c = opts.cell_dim
    for layer_i, direction, cell in bilm.lstm.directions():
        prefix = _lstm_prefix(direction, layer_i)
        w_in = _swap_gates(arr(cell.input_linearity.weight), c)
        w_state = _swap_gates(arr(cell.state_linearity.weight), c)
        out[f"{prefix}/W_0"] = numpy.concatenate([w_in, w_state], axis=1).T.copy()
        out[f"{prefix}/B"] = _swap_gates(arr(cell.input_linearity.bias), c)
        out[f"{prefix}/W_P_0"] = arr(cell.state_projection.weight).T.copy()
    return out


def expected_shapes(options: ElmoOptions) -> Dict[str, Tuple[int, ...]]:
    """Every dataset a weights file must hold for ``options``, with its shape."""
    o = options
    shapes: Dict[str, Tuple[int, ...]] = {
        "char_embed": (o.n_characters - 1, o.char_embed_dim)
    }
    for i, (width, num) in enumerate(o.filters):
        shapes[f"CNN/W_cnn_{i}"] = (1, width, o.char_embed_dim, num)
        shapes[f"CNN/b_cnn_{i}"] = (num,)
    d = o.n_filters
    for k in range(o.n_highway):
        for name in ("transform", "carry"):
            shapes[f"CNN_high_{k}/W_{name}"] = (d, d)
            shapes[f"CNN_high_{k}/b_{name}"] = (d,)
    shapes["CNN_proj/W_proj"] = (d, o.projection_dim)
    shapes["CNN_proj/b_proj"] = (o.projection_dim,)
    for layer in range(o.n_layers):
        for direction in (0, 1):
            prefix = _lstm_prefix(direction, layer)
            shapes[f"{prefix}/W_0"] = (2 * o.projection_dim, 4 * o.cell_dim)
            shapes[f"{prefix}/B"] = (4 * o.cell_dim,)
            shapes[f"{prefix}/W_P_0"] = (o.cell_dim, o.projection_dim)
    return shapes


def arrays_into_bilm(bilm: ElmoBiLm, arrays: Dict[str, numpy.ndarray]) -> None:
    """Copy allennlp-layout arrays (already shape-checked) into ``bilm``."""
    opts = bilm.options

    def put(param: torch.Tensor, value: numpy.ndarray) -> None:
        with torch.no_grad():
            param.copy_(
                torch.from_numpy(numpy.ascontiguousarray(value, dtype=numpy.float32))
            )

    enc = bilm.token_embedder
    embed = numpy.zeros(tuple(enc.char_embedding.weight.shape), dtype=numpy.float32)
    embed[1:] = arrays["char_embed"]
    put(enc.char_embedding.weight, embed)
    for i, conv in enumerate(enc.conv_layers()):
        put(conv.weight, numpy.transpose(arrays[f"CNN/W_cnn_{i}"][0], (2, 1, 0)))
        put(cast(torch.Tensor, conv.bias), arrays[f"CNN/b_cnn_{i}"])
    for k, layer in enumerate(enc.highway.linears()):
        h = f"CNN_high_{k}"
        put(
            layer.weight,
            numpy.concatenate(
                [arrays[f"{h}/W_transform"].T, -arrays[f"{h}/W_carry"].T]
            ),
        )
        put(
            layer.bias,
            numpy.concatenate([arrays[f"{h}/b_transform"], -arrays[f"{h}/b_carry"]]),
        )
    put(enc.projection.weight, arrays["CNN_proj/W_proj"].T)
    put(enc.projection.bias, arrays["CNN_proj/b_proj"])
    c = opts.cell_dim
    n_in = opts.projection_dim
    for layer_i, direction, cell in bilm.lstm.directions():
        prefix = _lstm_prefix(direction, layer_i)
        w = arrays[f"{prefix}/W_0"].T
        put(cell.input_linearity.weight, _swap_gates(w[:, :n_in], c))
        put(cell.state_linearity.weight, _swap_gates(w[:, n_in:], c))
        put(cell.input_linearity.bias, _swap_gates(arrays[f"{prefix}/B"], c))
        put(cell.state_projection.weight, arrays[f"{prefix}/W_P_0"].T)


def read_weight_arrays(
    path: PathLike, options: ElmoOptions
) -> Dict[str, numpy.ndarray]:
    """Read and shape-check every dataset ``options`` needs from an hdf5 file."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "weights file not found")
    try:
        fin = h5py.File(path, "r")
    except OSError as e:
        raise DataError(path, f"not a readable HDF5 weights file: {e}") from None
    arrays: Dict[str, numpy.ndarray] = {}
    with fin:
        for name, shape in expected_shapes(options).items():
            if name not in fin or not isinstance(fin[name], h5py.Dataset):
                raise DataError(path, f"missing dataset '{name}'")
            dataset = fin[name]
            if tuple(dataset.shape) != shape:
                raise DataError(
                    path,
                    f"dataset '{name}' has shape {tuple(dataset.shape)}, "
                    f"but the options ask for {shape}",
                )
            arrays[name] = numpy.asarray(dataset[...])
    return arrays


def load_bilm(
    options_path: PathLike,
    weights_path: PathLike,
    *,
    requires_grad: bool = False,
    dropout: float = 0.0,
) -> ElmoBiLm:
    """Build an :class:`ElmoBiLm` from allennlp-format files.

    Reads ``options.json`` + ``weights.hdf5``.

    requires_grad: leave the parameters trainable (default: frozen).
    dropout: LSTM input dropout in training mode (for continued pretraining).
    """
    options = ElmoOptions.from_file(options_path)
    arrays = read_weight_arrays(weights_path, options)
    bilm = ElmoBiLm(options, dropout=dropout)
    arrays_into_bilm(bilm, arrays)
    bilm.requires_grad_(requires_grad)
    return bilm


def load_bilm_dir(path: PathLike, **kwargs) -> ElmoBiLm:
    """:func:`load_bilm` on ``path/options.json`` and ``path/weights.hdf5``."""
    path = Path(path)
    return load_bilm(path / OPTIONS_FILE, path / WEIGHTS_FILE, **kwargs)


def write_weights(bilm: ElmoBiLm, path: PathLike) -> None:
    """Write ``weights.hdf5`` in allennlp's layout (atomically)."""
    import h5py

    arrays = bilm_to_arrays(bilm)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as fout:
            for name, value in arrays.items():
                fout.create_dataset(name, data=value)


def write_options(options: ElmoOptions, path: PathLike) -> None:
    write_json_atomic(path, options.to_dict())


def save_bilm(bilm: ElmoBiLm, output_dir: PathLike) -> Tuple[Path, Path]:
    """Write ``options.json`` and ``weights.hdf5`` into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options_path = output_dir / OPTIONS_FILE
    weights_path = output_dir / WEIGHTS_FILE
    write_weights(bilm, weights_path)
    write_options(bilm.options, options_path)
    return options_path, weights_path
