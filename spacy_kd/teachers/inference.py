"""Cheaper inference for a frozen transformer: windows batched by length, int8 weights.

spacy-transformers pads every window of a batch of docs to the longest one and runs
them in one call: with whole documents cut into strided windows, a batch mixes full
windows with the short last window of each doc and with short docs, and on 20
Newsgroups about 40% of the wordpieces it computes are padding. With
``window_batch_size`` > 0 the windows of each call are sorted by their real length
and run ``window_batch_size`` at a time, each group padded only to its own longest
window; the hidden states are put back in the call's order (positions past a
group's longest window hold 0; the pooling masks every padding position).

``quantize="int8"`` runs the encoder in onnxruntime with int8 weights: the loaded
float encoder is exported to ONNX and its weights quantized per output channel
(activations quantized on the fly), once per process. The float model stays in the
pipeline, so ``to_disk`` saves the float weights and a pipeline is switched back by
its config alone. onnxruntime was chosen over torch's own dynamic quantization
(``torch.ao.quantization``, deprecated in torch 2.13): on all-MiniLM-L6-v2 windows on
a 2-core AVX2 machine it ran 1.60x torch float32 against 1.39x, and its pooled
vectors stayed closer to the float ones (least cosine 0.980 against 0.956).

Both apply only to a frozen encoder run to predict (the teachers' features): a
forward pass that trains goes through spacy-transformers unchanged.
"""

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

from spacy.tokens import Doc
from thinc.api import Model

from spacy_kd.teachers._state import ModelState

QUANTIZE = (None, "int8")
# per model: the float torch module the fast one was made from, and the fast one
_FAST = ModelState(lambda: {"source": None, "fast": None})


def check_inference_settings(window_batch_size: int, quantize: Optional[str]) -> None:
    if window_batch_size < 0:
        raise ValueError(
            f"window_batch_size must be >= 0 (0: the whole batch at once), got "
            f"{window_batch_size}"
        )
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be null or 'int8', got {quantize!r}")
    if quantize == "int8":  # when the pipeline is built, not at its first doc
        _int8_modules()


def _int8_modules() -> Tuple[Any, Any, Any]:
    """onnxruntime, and its dynamic quantization and weight type."""
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ImportError(
            'quantize = "int8" needs onnxruntime and onnx: pip install '
            '"spacy_kd[int8]" (or set quantize = null in the teacher\'s config.cfg)'
        ) from None
    return onnxruntime, quantize_dynamic, QuantType


def with_inference_settings(
    transformer: Model, window_batch_size: int = 0, quantize: Optional[str] = None
) -> Model:
    """Make a spacy-transformers TransformerModel predict with windows batched by
    length and, with ``quantize="int8"``, int8 weights (see the module's docstring);
    training passes go through unchanged. The model is changed in place and
    returned: its forward function is wrapped, and its layers, parameters and
    attrs stay as they are, so a pipeline saved with one setting loads with another
    (the settings live in the config only)."""
    check_inference_settings(window_batch_size, quantize)
    if not window_batch_size and not quantize:
        return transformer
    inner = transformer._func

    def forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[Any, Callable]:
        if is_train:
            return inner(model, docs, is_train)
        shim = model.layers[0].shims[0]
        source = shim._model
        shim._model = fast_module(model, source, window_batch_size, quantize)
        try:
            return inner(model, docs, is_train)
        finally:
            shim._model = source

    transformer._func = forward
    return transformer


def fast_module(
    model: Model, source: Any, window_batch_size: int, quantize: Optional[str]
) -> Any:
    """The torch module that predicts for ``source`` (the loaded float transformer),
    made once per process and remade when the weights are replaced (``from_disk``)."""
    state = _FAST.get(model.id)
    if state["source"] is not source:
        module = source
        if quantize == "int8":
            module = quantize_int8(source)
        if window_batch_size:
            module = LengthBatched(module, window_batch_size)
        state.update(source=source, fast=module)
    return state["fast"]


def quantize_int8(source: Any) -> Any:
    """The Hugging Face encoder ``source`` as an int8 onnxruntime session, behind a
    torch module that takes and gives what the encoder does (``last_hidden_state``).

    The encoder is exported to ONNX (opset 17, dynamic batch and length) and its
    weights quantized to int8 per output channel by onnxruntime's dynamic
    quantization (activations quantized on the fly); both in a temporary folder,
    once per process (a few seconds). Needs ``pip install spacy_kd[int8]``.
    """
    import torch

    onnxruntime, quantize_dynamic, QuantType = _int8_modules()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = {name: torch.ones((1, 4), dtype=torch.long) for name in names}
    axes = {name: {0: "batch", 1: "length"} for name in [*names, "last_hidden_state"]}
    with tempfile.TemporaryDirectory() as tmp:
        plain, int8 = Path(tmp) / "encoder.onnx", Path(tmp) / "encoder.int8.onnx"
        with warnings.catch_warnings():  # the exporter's deprecation and tracer notes
            warnings.simplefilter("ignore")
            source.eval()
            torch.onnx.export(
                source, (), str(plain), kwargs=example, input_names=names,
                output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=17, dynamo=False, do_constant_folding=True,
            )  # fmt: skip
        # onnxruntime's quantizer suggests a pre-processing step through
        # logging.warning: with a handler of our own on the root logger it neither
        # prints nor sets up logging for the whole process (basicConfig)
        root, quiet = logging.getLogger(), logging.NullHandler()
        level = root.level
        root.addHandler(quiet)
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                str(plain), str(int8), weight_type=QuantType.QInt8, per_channel=True,
                nodes_to_exclude=float_nodes(plain),
            )  # fmt: skip
        finally:
            root.removeHandler(quiet)
            root.setLevel(level)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(torch.get_num_threads(), 1)
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            int8.read_bytes(), options, providers=["CPUExecutionProvider"]
        )
    return _onnx_encoder_class()(session)


def float_nodes(path: Path) -> List[str]:
    """The nodes of an exported BERT encoder left in float32: each layer's
    feed-forward output projection (1,536 -> 384 in MiniLM), whose inputs, after
    GELU, have the widest range, so that 8 bits lose the most there. On the
    benchmark's BERT teacher (200 pool docs) keeping them in float32 raised the
    agreement of its labels with the float teacher's from 98.0% to 99.5%, for 1.18x
    float32's docs/s instead of 1.24x."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [
        node.name
        for node in graph.node
        if node.op_type in ("MatMul", "Gemm")
        and "/output/dense/" in node.name
        and "/attention/" not in node.name
    ]


def _onnx_encoder_class():
    import torch

    class _OnnxEncoder(torch.nn.Module):
        """An onnxruntime session of an encoder, called like the encoder."""

        def __init__(self, session: Any) -> None:
            super().__init__()
            self.session = session
            self.inputs = [i.name for i in session.get_inputs()]

        def forward(self, input_ids, attention_mask, token_type_ids=None, **_kwargs):
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            given = {
                "input_ids": input_ids,
                "attention_mask": attention_mask,
                "token_type_ids": token_type_ids,
            }
            feed = {k: given[k].cpu().numpy().astype("int64") for k in self.inputs}
            (hidden,) = self.session.run(["last_hidden_state"], feed)
            from transformers.modeling_outputs import BaseModelOutput

            return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))

    return _OnnxEncoder


def _length_batched_class():
    import torch

    class _LengthBatched(torch.nn.Module):
        """Run a Hugging Face encoder over windows sorted by real length, at most
        ``batch_size`` windows a call, each call padded to its own longest window;
        the outputs come back in the input's order, padded to the input's width."""

        def __init__(self, module: Any, batch_size: int) -> None:
            super().__init__()
            self.module = module
            self.batch_size = batch_size

        def forward(self, input_ids, attention_mask, **kwargs):
            config = getattr(self.module, "config", None)
            if getattr(config, "output_hidden_states", False) or getattr(
                config, "output_attentions", False
            ):  # per-layer outputs are not regrouped: run the batch as it is
                return self.module(
                    input_ids=input_ids, attention_mask=attention_mask, **kwargs
                )
            n, width = input_ids.shape
            lengths = attention_mask.sum(dim=1)
            order = torch.argsort(lengths, descending=True, stable=True)
            hidden = None
            pooled = None
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                keep = max(int(lengths[rows].max()), 1)
                extra = {k: v[rows, :keep] for k, v in kwargs.items() if v is not None}
                out = self.module(
                    input_ids=input_ids[rows, :keep],
                    attention_mask=attention_mask[rows, :keep],
                    **extra,
                )
                state = out.last_hidden_state
                if hidden is None:
                    hidden = state.new_zeros((n, width, state.shape[-1]))
                hidden[rows, :keep] = state
                pool = getattr(out, "pooler_output", None)
                if pool is not None:
                    if pooled is None:
                        pooled = pool.new_zeros((n, pool.shape[-1]))
                    pooled[rows] = pool
            if hidden is None:  # no windows: let the encoder shape the empty output
                return self.module(
                    input_ids=input_ids, attention_mask=attention_mask, **kwargs
                )
            from transformers.modeling_outputs import (
                BaseModelOutputWithPoolingAndCrossAttentions,
            )

            return BaseModelOutputWithPoolingAndCrossAttentions(
                last_hidden_state=hidden, pooler_output=pooled
            )

    return _LengthBatched


def LengthBatched(module: Any, batch_size: int) -> Any:
    return _length_batched_class()(module, batch_size)
