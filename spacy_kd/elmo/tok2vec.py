"""``spacy-kd.ElmoTok2Vec.v1``: ELMo's contextual vectors as a spaCy tok2vec layer."""

import io
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple, Union, cast

import numpy
import srsly
import torch
from spacy.tokens import Doc
from thinc.api import ArgsKwargs, Model, PyTorchShim, get_torch_default_device
from thinc.types import Floats2d

from spacy_kd.elmo.file_format import load_bilm
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.embedder import REPRESENTATIONS, ElmoRepresentation, Windows
from spacy_kd.types import DocsToFloats2d

# windows per biLM call when no gradient is needed (bounds memory in nlp.pipe)
PREDICT_BATCH_WINDOWS = 128


def build_elmo_tok2vec(
    options_path: Union[str, Path],
    weights_path: Union[str, Path],
    representation: str = "scalar_mix",
    trainable: bool = False,
    dropout: float = 0.0,
    max_length: int = 64,
) -> DocsToFloats2d:
    """ELMo vectors for every token, usable wherever spaCy takes a tok2vec.

    options_path, weights_path: an allennlp-format ``options.json`` and
        ``weights.hdf5`` (from ``pretrain-elmo`` or allennlp). They are read by
        ``nlp.initialize()``; afterwards the biLM's weights live in the pipeline,
        so ``spacy.load`` does not need the files.
    representation: ``"scalar_mix"`` (learned weights over the layers),
        ``"average"``, ``"top"`` (last LSTM layer) or ``"concat"`` (all layers;
        width ``(n_layers + 1) * 2 * projection_dim``, else ``2 * projection_dim``).
    trainable: fine-tune the biLM. When False (default) its weights are frozen: no
        gradients, no optimizer updates, eval mode, no autograd graph.
    dropout: dropout on the output vectors in training.
    max_length: documents are cut into windows of at most this many tokens, each
        run through the biLM as a sequence of its own.
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"spacy-kd.ElmoTok2Vec.v1: unknown representation {representation!r} "
            f"(choose one of {', '.join(REPRESENTATIONS)})"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(
            f"spacy-kd.ElmoTok2Vec.v1: dropout must be in [0, 1), got {dropout}"
        )
    if max_length < 1:
        raise ValueError(
            f"spacy-kd.ElmoTok2Vec.v1: max_length must be >= 1, got {max_length}"
        )
    module = ElmoRepresentation(representation, trainable=trainable)
    shim = PyTorchShim(
        module,
        serialize_model=serialize_elmo,
        deserialize_model=deserialize_elmo,
    )
    return Model(
        "elmo_tok2vec",
        forward,
        init=init,
        # the width is set by initialize() or by deserialization: the files
        # may be gone when a trained pipeline is loaded
        dims={"nO": None},
        attrs={
            "options_path": str(options_path),
            "weights_path": str(weights_path),
            "dropout": dropout,
            "max_length": max_length,
        },
        shims=[shim],
    )


def get_elmo_module(model: Model) -> ElmoRepresentation:
    """The torch module (biLM + layer combination) inside the thinc model."""
    return model.shims[0]._model


def init(model: Model, X: Optional[List[Doc]] = None, Y: Any = None) -> Model:
    module = get_elmo_module(model)
    if module.bilm is None:
        bilm = load_bilm(model.attrs["options_path"], model.attrs["weights_path"])
        module.set_bilm(bilm)
        module.to(get_torch_default_device())
    model.set_dim("nO", module.output_dim)
    return model


def forward(
    model: Model, docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List]]:
    shim = cast(PyTorchShim, model.shims[0])
    module = get_elmo_module(model)
    width = model.get_dim("nO")
    windows = Windows(
        [[token.text for token in doc] for doc in docs], model.attrs["max_length"]
    )
    device = shim.device
    assert module.bilm is not None, "initialize the ElmoTok2Vec model first"
    max_chars = module.bilm.options.max_characters_per_token
    if not len(windows):
        return [model.ops.alloc2f(len(doc), width) for doc in docs], lambda dY: []
    if is_train and module.has_trainable_params:
        ids = torch.from_numpy(windows.char_ids(max_chars=max_chars)).to(device)
        out, torch_backprop = shim.begin_update(ArgsKwargs(args=(ids,), kwargs={}))
        values = out.detach().float().cpu().numpy()
        outputs = windows.unbatch(list(values), width)
        steps = ids.shape[1]
    else:
        chunks = windows.chunks(PREDICT_BATCH_WINDOWS)
        per_window: List[Any] = [None] * len(windows)
        for chunk in chunks:
            ids = torch.from_numpy(windows.char_ids(chunk, max_chars=max_chars)).to(
                device
            )
            values = (
                shim.predict(ArgsKwargs(args=(ids,), kwargs={})).float().cpu().numpy()
            )
            for row, index in enumerate(chunk):
                per_window[index] = values[row]
        outputs = windows.unbatch(per_window, width)
        torch_backprop = None
    masks: Optional[List[numpy.ndarray]] = None
    dropout = model.attrs["dropout"]
    if is_train and dropout > 0:
        masks = [
            model.ops.to_numpy(model.ops.get_dropout_mask(y.shape, dropout))
            for y in outputs
        ]
        outputs = [y * mask for y, mask in zip(outputs, masks)]
    Y = [model.ops.asarray2f(cast(Floats2d, y)) for y in outputs]

    def backprop(dY: List[Floats2d]) -> List:
        if torch_backprop is None:
            return []
        d_docs = [model.ops.to_numpy(dy) for dy in dY]
        if masks is not None:
            d_docs = [dy * mask for dy, mask in zip(d_docs, masks)]
        d_out = torch.from_numpy(windows.batch(d_docs, steps)).to(out.device, out.dtype)
        torch_backprop(ArgsKwargs(args=(out,), kwargs={"grad_tensors": (d_out,)}))
        return []

    return Y, backprop


def serialize_elmo(module: ElmoRepresentation) -> bytes:
    """The biLM's options and every weight (biLM and mix) as one bytes string."""
    state = io.BytesIO()
    torch.save(module.state_dict(), state)
    options = None if module.bilm is None else module.bilm.options.to_dict()
    return srsly.msgpack_dumps({"options": options, "state": state.getvalue()})


def deserialize_elmo(
    module: ElmoRepresentation, data: bytes, device: "torch.device"
) -> ElmoRepresentation:
    msg = srsly.msgpack_loads(data)
    if msg["options"] is not None:
        bilm = ElmoBiLm(ElmoOptions.from_dict(msg["options"], path="<serialized ELMo>"))
        module = ElmoRepresentation(
            module.representation, trainable=module.trainable, bilm=bilm
        )
    try:  # tensors only: a pickle that holds any other object is refused
        state = torch.load(
            io.BytesIO(msg["state"]), map_location=device, weights_only=True
        )
    except Exception as e:  # pickle.UnpicklingError and the like
        raise ValueError(
            "The serialized ELMo weights are not a plain state dict of tensors "
            f"(refused, nothing in them was run): {' '.join(str(e).split())[:300]}"
        ) from None
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(
            "The serialized ELMo weights do not fit this spacy-kd.ElmoTok2Vec.v1 "
            f"(was the representation changed in the config?): {e}"
        ) from None
    return module.to(device)
