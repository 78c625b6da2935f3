"""Highway layers.

``y = g * x + (1 - g) * relu(A x + a)`` with ``g = sigmoid(B x + b)``.
"""

from typing import Callable, List, cast

import torch
from torch import nn


class Highway(nn.Module):
    """A stack of highway layers of constant width.

    Each layer is one ``Linear(dim, 2 * dim)``: the first half of its outputs is the
    non-linear transform ``A x + a``, the second half the carry gate ``B x + b``
    (the layout allennlp uses, so weights map one to one).
    """

    def __init__(
        self,
        dim: int,
        num_layers: int = 1,
        activation: Callable[[torch.Tensor], torch.Tensor] = torch.relu,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.activation = activation
        linears = [nn.Linear(dim, 2 * dim) for _ in range(num_layers)]
        for layer in linears:
            # start close to the identity: a positive gate bias carries x through
            nn.init.normal_(layer.weight, std=(1.0 / dim) ** 0.5)
            nn.init.zeros_(layer.bias)
            with torch.no_grad():
                layer.bias[dim:].fill_(2.0)
        self.layers = nn.ModuleList(linears)

    def linears(self) -> List[nn.Linear]:
        return [cast(nn.Linear, layer) for layer in self.layers]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        for layer in self.layers:
            transform, gate = layer(x).chunk(2, dim=-1)
            gate = torch.sigmoid(gate)
            x = gate * x + (1 - gate) * self.activation(transform)
        return x
