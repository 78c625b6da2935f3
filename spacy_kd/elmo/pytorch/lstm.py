"""ELMo's biLSTM: LSTM cells with a projected, clipped state; layers joined by skips.

The forward and backward directions are two separate stacks: layer ``k`` of the
forward stack reads layer ``k - 1`` of the forward stack only (allennlp's
``ElmoLstm``). Parameters follow TensorFlow's convention for the forget gate, as
ELMo's weight files do: its bias is stored without the constant 1.0 that the cell
adds, so weights move between files and modules without any arithmetic.
"""

from typing import List, Optional, Tuple, cast

import torch
from torch import nn

FORGET_BIAS = 1.0


class LstmCellWithProjection(nn.Module):
    """One direction of one layer: an LSTM whose state is projected and clipped.

    Gates are ordered input, forget, cell candidate, output. Per step::

        c = clip(sigmoid(i) * tanh(g) + sigmoid(f + 1) * c_prev, cell_clip)
        h = clip(W_p (sigmoid(o) * tanh(c)), proj_clip)
    """

    forget_offset: torch.Tensor

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        cell_size: int,
        *,
        cell_clip: Optional[float] = None,
        proj_clip: Optional[float] = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.cell_size = cell_size
        self.cell_clip = cell_clip
        self.proj_clip = proj_clip
        self.input_linearity = nn.Linear(input_size, 4 * cell_size, bias=True)
        self.state_linearity = nn.Linear(hidden_size, 4 * cell_size, bias=False)
        self.state_projection = nn.Linear(cell_size, hidden_size, bias=False)
        offset = torch.zeros(4 * cell_size)
        offset[cell_size : 2 * cell_size] = FORGET_BIAS
        self.register_buffer("forget_offset", offset, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        c = self.cell_size
        with torch.no_grad():
            for weight in (self.input_linearity.weight, self.state_linearity.weight):
                for k in range(4):
                    nn.init.orthogonal_(weight[k * c : (k + 1) * c])
            nn.init.zeros_(self.input_linearity.bias)
            nn.init.normal_(self.state_projection.weight, std=(1.0 / c) ** 0.5)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(batch, steps, input_size)`` to ``(batch, steps, hidden_size)``.

        Every row starts from a zero state at step 0; a row's outputs after its
        end are meaningless (the caller masks them).
        """
        batch, steps, _ = inputs.shape
        c = self.cell_size
        bias = self.input_linearity.bias + self.forget_offset
        # all steps' input projections at once; only the recurrence is sequential
        projected = torch.nn.functional.linear(
            inputs, self.input_linearity.weight, bias
        )
        state = inputs.new_zeros(batch, self.hidden_size)
        memory = inputs.new_zeros(batch, c)
        w_state = self.state_linearity.weight
        w_proj = self.state_projection.weight
        outputs = []
        # unbind, not projected[:, t]: each slice's backward would fill a zero
        # tensor of the whole projection, once per step
        for step_input in projected.unbind(1):
            gates = step_input + state.matmul(w_state.t())
            # chunk, not slices: its backward concatenates instead of zero-filling
            i, f, g, o = gates.chunk(4, dim=1)
            memory = torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(f) * memory
            if self.cell_clip:
                memory = memory.clamp(-self.cell_clip, self.cell_clip)
            state = (torch.sigmoid(o) * torch.tanh(memory)).matmul(w_proj.t())
            if self.proj_clip:
                state = state.clamp(-self.proj_clip, self.proj_clip)
            outputs.append(state)
        if not outputs:
            return inputs.new_zeros(batch, 0, self.hidden_size)
        return torch.stack(outputs, dim=1)


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first ``lengths[i]`` steps, leave its padding in place.

    Applying it twice gives ``x`` back.
    """
    batch, steps = x.shape[:2]
    positions = torch.arange(steps, device=x.device).unsqueeze(0).expand(batch, steps)
    lengths = lengths.unsqueeze(1)
    index = torch.where(positions < lengths, lengths - 1 - positions, positions)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class ElmoLstm(nn.Module):
    """Stacked bidirectional LSTM with separate directions and skip connections.

    dropout: applied to each layer's input in training mode (for pretraining;
        0 when the biLM is used as a feature extractor, as in allennlp).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        cell_size: int,
        num_layers: int,
        *,
        cell_clip: Optional[float] = None,
        proj_clip: Optional[float] = None,
        use_skip_connections: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.use_skip_connections = use_skip_connections
        self.dropout = dropout
        sizes = [input_size] + [hidden_size] * (num_layers - 1)

        def cells() -> nn.ModuleList:
            return nn.ModuleList(
                LstmCellWithProjection(
                    size,
                    hidden_size,
                    cell_size,
                    cell_clip=cell_clip,
                    proj_clip=proj_clip,
                )
                for size in sizes
            )

        self.forward_layers = cells()
        self.backward_layers = cells()

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor) -> List[torch.Tensor]:
        """Run both stacks over ``(batch, steps, input_size)`` right-padded inputs.

        Returns one ``(batch, steps, 2 * hidden_size)`` tensor per layer (forward
        and backward outputs concatenated), zero at masked positions.
        """
        lengths = mask.sum(dim=1)
        fmask = mask.unsqueeze(-1).to(inputs.dtype)
        forward_in = inputs
        backward_in = reverse_padded(inputs, lengths)
        outputs: List[torch.Tensor] = []
        for k in range(self.num_layers):
            f_in, b_in = forward_in, backward_in
            if self.dropout and self.training:
                f_in = nn.functional.dropout(f_in, self.dropout, training=True)
                b_in = nn.functional.dropout(b_in, self.dropout, training=True)
            forward_out = self.forward_layers[k](f_in)
            backward_out = self.backward_layers[k](b_in)
            if k > 0 and self.use_skip_connections:
                forward_out = forward_out + forward_in
                backward_out = backward_out + backward_in
            layer = torch.cat(
                [forward_out, reverse_padded(backward_out, lengths)], dim=-1
            )
            outputs.append(layer * fmask)
            forward_in, backward_in = forward_out, backward_out
        return outputs

    def directions(self) -> List[Tuple[int, int, LstmCellWithProjection]]:
        """``(layer, direction, cell)`` for every cell; direction 0 is forward."""
        out = []
        for k in range(self.num_layers):
            out.append((k, 0, cast(LstmCellWithProjection, self.forward_layers[k])))
            out.append((k, 1, cast(LstmCellWithProjection, self.backward_layers[k])))
        return out
