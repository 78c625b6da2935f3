"""From token sequences to ELMo vectors: windows, batching, and layer combinations.

Long documents are cut into consecutive windows of at most ``max_length`` tokens;
each window is a biLM sequence of its own (with its own ``<S>`` and ``</S>``), and
the windows' vectors are glued back into one array per document. The tok2vec
layer and :func:`embed_token_lists` share this code, so cached features equal the
ones the pipeline computes.
"""

from typing import Iterable, List, Optional, Sequence, Tuple

import numpy
import torch
from torch import nn

from spacy_kd.elmo.char_ids import CharIdCache, batch_to_char_ids
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.scalar_mix import ScalarMix

REPRESENTATIONS = ("scalar_mix", "top", "average", "concat")


class Windows:
    """Token sequences cut into windows, and the way back to per-sequence arrays.

    token_lists: one list of token strings per document.
    max_length: the longest window (``None``: one window per document).
    """

    def __init__(
        self, token_lists: Sequence[Sequence[str]], max_length: Optional[int] = None
    ) -> None:
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.lengths = [len(tokens) for tokens in token_lists]
        self.windows: List[Sequence[str]] = []
        # (document, first token) of every window
        self.origins: List[Tuple[int, int]] = []
        for i, tokens in enumerate(token_lists):
            step = max_length or max(len(tokens), 1)
            for start in range(0, len(tokens), step):
                self.windows.append(tokens[start : start + step])
                self.origins.append((i, start))

    def __len__(self) -> int:
        return len(self.windows)

    def chunks(self, batch_size: int) -> List[List[int]]:
        """Window indices in batches of similar length (less padding)."""
        order = sorted(range(len(self.windows)), key=lambda i: -len(self.windows[i]))
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

    def char_ids(
        self,
        indices: Optional[Sequence[int]] = None,
        cache: Optional[CharIdCache] = None,
        *,
        max_chars: Optional[int] = None,
    ) -> numpy.ndarray:
        """The windows' (``indices``: these windows') character ids, ``max_chars``
        (the biLM's ``max_characters_per_token``; default: the cache's, else 50)
        a token."""
        if indices is None:
            indices = range(len(self.windows))
        return batch_to_char_ids(
            [self.windows[i] for i in indices], max_chars, cache=cache
        )

    def unbatch(
        self, window_arrays: Sequence[numpy.ndarray], width: int, dtype=numpy.float32
    ) -> List[numpy.ndarray]:
        """Glue per-window ``(steps, ..., width)`` arrays into per-document arrays.

        ``window_arrays[i]`` belongs to window ``i``; its leading axis is padded
        time, and any middle axes (for example layers) are kept.
        """
        middle = window_arrays[0].shape[1:-1] if len(window_arrays) else ()
        docs = [numpy.zeros((n, *middle, width), dtype=dtype) for n in self.lengths]
        for (doc, start), window, values in zip(
            self.origins, self.windows, window_arrays
        ):
            docs[doc][start : start + len(window)] = values[: len(window)]
        return docs

    def batch(self, doc_arrays: Sequence[numpy.ndarray], steps: int) -> numpy.ndarray:
        """The inverse of :meth:`unbatch`: per-document arrays to padded windows."""
        width = doc_arrays[0].shape[-1] if len(doc_arrays) else 0
        dtype = doc_arrays[0].dtype if len(doc_arrays) else numpy.float32
        out = numpy.zeros((len(self.windows), steps, width), dtype=dtype)
        for w, ((doc, start), window) in enumerate(zip(self.origins, self.windows)):
            out[w, : len(window)] = doc_arrays[doc][start : start + len(window)]
        return out


def representation_width(representation: str, num_layers: int, layer_dim: int) -> int:
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"unknown ELMo representation {representation!r}: "
            f"choose one of {', '.join(REPRESENTATIONS)}"
        )
    return layer_dim * num_layers if representation == "concat" else layer_dim


class ElmoRepresentation(nn.Module):
    """A biLM plus the way its layers become one vector per token.

    representation: ``"scalar_mix"`` (learned softmax weights and scale),
        ``"average"`` (mean of the layers), ``"top"`` (the last LSTM layer) or
        ``"concat"`` (all layers side by side).
    trainable: fine-tune the biLM; when False its parameters have no gradients, it
        runs without autograd and always in eval mode (the mix may still learn).

    ``forward(char_ids)`` returns ``(batch, timesteps, width)`` without the
    sentence-boundary positions, zero past each sequence's end.
    """

    def __init__(
        self,
        representation: str = "scalar_mix",
        *,
        trainable: bool = False,
        bilm: Optional[ElmoBiLm] = None,
    ) -> None:
        super().__init__()
        representation_width(representation, 1, 1)  # validates the name
        self.representation = representation
        self.trainable = trainable
        self.bilm: Optional[ElmoBiLm] = None
        self.scalar_mix: Optional[ScalarMix] = None
        if bilm is not None:
            self.set_bilm(bilm)

    def set_bilm(self, bilm: ElmoBiLm) -> None:
        self.bilm = bilm
        bilm.requires_grad_(self.trainable)
        if self.representation == "scalar_mix":
            self.scalar_mix = ScalarMix(bilm.num_layers)
        self.train(self.training)

    @property
    def output_dim(self) -> int:
        if self.bilm is None:
            raise ValueError("ElmoRepresentation has no biLM yet")
        return representation_width(
            self.representation, self.bilm.num_layers, self.bilm.output_dim
        )

    @property
    def has_trainable_params(self) -> bool:
        return any(p.requires_grad for p in self.parameters())

    def train(self, mode: bool = True) -> "ElmoRepresentation":
        super().train(mode)
        if self.bilm is not None and not self.trainable:
            self.bilm.eval()
        return self

    def combine(self, layers: List[torch.Tensor]) -> torch.Tensor:
        if self.representation == "scalar_mix":
            assert self.scalar_mix is not None
            return self.scalar_mix(layers)
        if self.representation == "top":
            return layers[-1]
        if self.representation == "concat":
            return torch.cat(layers, dim=-1)
        return torch.stack(layers, dim=0).mean(dim=0)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        if self.bilm is None:
            raise ValueError(
                "ElmoRepresentation has no biLM: initialize the model first"
            )
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable):
            layers, mask = self.bilm(char_ids)
        steps = char_ids.shape[1]
        mixed = self.combine([layer[:, 1 : steps + 1] for layer in layers])
        valid = mask[:, 2 : steps + 2].unsqueeze(-1).to(mixed.dtype)
        return mixed * valid


def _device_of(module: nn.Module) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def embed_token_lists(
    bilm: ElmoBiLm,
    token_lists: Sequence[Sequence[str]],
    *,
    batch_size: int = 64,
    max_length: Optional[int] = 64,
    layers: Optional[Iterable[int]] = None,
) -> List[numpy.ndarray]:
    """Every layer's ELMo activations for each token list, computed in batches.

    Returns one float32 array per input, of shape ``(n_layers, n_tokens,
    2 * projection_dim)`` (layer 0 is the character layer), boundary tokens
    removed. The biLM runs in eval mode without autograd on its own device.

    batch_size: windows per biLM call.
    max_length: the window length (as in ``spacy-kd.ElmoTok2Vec.v1``; ``None``:
        whole sequences).
    layers: which layers to return (default: all).
    """
    layer_ids = list(range(bilm.num_layers)) if layers is None else list(layers)
    windows = Windows(token_lists, max_length)
    width = bilm.output_dim
    outputs: List[Optional[numpy.ndarray]] = [None] * len(windows)
    device = _device_of(bilm)
    was_training = bilm.training
    bilm.eval()
    cache = CharIdCache(bilm.options.max_characters_per_token)
    try:
        with torch.no_grad():
            for chunk in windows.chunks(batch_size):
                ids = torch.from_numpy(windows.char_ids(chunk, cache)).to(device)
                acts, _ = bilm(ids)
                steps = ids.shape[1]
                # (batch, steps, n_layers, width) without the boundary positions
                stacked = torch.stack(
                    [acts[k][:, 1 : steps + 1] for k in layer_ids], dim=2
                )
                values = stacked.float().cpu().numpy()
                for row, index in enumerate(chunk):
                    outputs[index] = values[row]
    finally:
        bilm.train(was_training)
    if not len(windows):
        return [
            numpy.zeros((len(layer_ids), n, width), dtype=numpy.float32)
            for n in windows.lengths
        ]
    per_doc = windows.unbatch(outputs, width)  # type: ignore[arg-type]
    return [numpy.ascontiguousarray(doc.transpose(1, 0, 2)) for doc in per_doc]


def embed_docs(bilm: ElmoBiLm, docs: Sequence, **kwargs) -> List[numpy.ndarray]:
    """:func:`embed_token_lists` on spaCy ``Doc`` objects (token texts)."""
    return embed_token_lists(
        bilm, [[token.text for token in doc] for doc in docs], **kwargs
    )
