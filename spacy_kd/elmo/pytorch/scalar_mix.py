"""ELMo's scalar mix: ``gamma * sum_k softmax(w)_k * layer_k``."""

from typing import List, Optional, Sequence

import torch
from torch import nn


class ScalarMix(nn.Module):
    """Softmax-normalised layer weights times a scale ``gamma``.

    num_layers: how many tensors are mixed.
    layer_norm: normalise each layer (over all unmasked positions and features of
        the batch, as allennlp does) before weighting; needs the mask.
    initial_weights: unnormalised starting weights (default: all zero, a mean).
    trainable: learn the weights and gamma (else they stay fixed).
    """

    def __init__(
        self,
        num_layers: int,
        *,
        layer_norm: bool = False,
        initial_weights: Optional[Sequence[float]] = None,
        trainable: bool = True,
    ) -> None:
        super().__init__()
        if initial_weights is None:
            initial_weights = [0.0] * num_layers
        if len(initial_weights) != num_layers:
            raise ValueError(
                f"initial_weights has {len(initial_weights)} values for "
                f"{num_layers} layers"
            )
        self.num_layers = num_layers
        self.layer_norm = layer_norm
        self.weights = nn.Parameter(
            torch.tensor(list(initial_weights), dtype=torch.float32),
            requires_grad=trainable,
        )
        self.gamma = nn.Parameter(torch.ones(1), requires_grad=trainable)

    def forward(
        self, layers: List[torch.Tensor], mask: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        if len(layers) != self.num_layers:
            raise ValueError(
                f"got {len(layers)} layers to mix, expected {self.num_layers}"
            )
        normed = torch.softmax(self.weights, dim=0)
        if self.layer_norm:
            if mask is None:
                raise ValueError("ScalarMix with layer_norm needs the mask")
            layers = [_masked_layer_norm(x, mask) for x in layers]
        mixed = normed[0] * layers[0]
        for k in range(1, self.num_layers):
            mixed = mixed + normed[k] * layers[k]
        return self.gamma * mixed


def _masked_layer_norm(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(x.dtype)
    count = m.sum() * x.size(-1)
    mean = (x * m).sum() / count
    var = (((x * m - mean) * m) ** 2).sum() / count
    tiny = 1e-4 if x.dtype == torch.float16 else 1e-13
    return (x - mean) / torch.sqrt(var + tiny)
