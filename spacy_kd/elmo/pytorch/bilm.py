"""The ELMo biLM: character encoder plus biLSTM, returning every layer's activations."""

from typing import List, Tuple

import torch
from torch import nn

from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.char_cnn import ElmoCharacterEncoder
from spacy_kd.elmo.pytorch.lstm import ElmoLstm


class ElmoBiLm(nn.Module):
    """Character ids in, ``n_layers + 1`` layers of contextual activations out.

    ``forward(char_ids)`` takes ``(batch, timesteps, max_chars)`` ids from
    :func:`~spacy_kd.elmo.char_ids.batch_to_char_ids` and returns
    ``(activations, mask)``: a list of ``(batch, timesteps + 2, 2 * projection_dim)``
    tensors (layer 0 is the character layer, duplicated for both directions, as
    in allennlp) that include the ``<S>``/``</S>`` positions, and their mask.

    dropout: on the LSTM layers' inputs in training mode (pretraining only).
    """

    def __init__(self, options: ElmoOptions, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.options = options
        self.token_embedder = ElmoCharacterEncoder(options)
        self.lstm = ElmoLstm(
            options.projection_dim,
            options.projection_dim,
            options.cell_dim,
            options.n_layers,
            cell_clip=options.cell_clip,
            proj_clip=options.proj_clip,
            use_skip_connections=options.use_skip_connections,
            dropout=dropout,
        )

    @property
    def num_layers(self) -> int:
        return self.options.num_output_layers

    @property
    def output_dim(self) -> int:
        return self.options.output_dim

    def forward(
        self, char_ids: torch.Tensor
    ) -> Tuple[List[torch.Tensor], torch.Tensor]:
        tokens, mask = self.token_embedder(char_ids)
        fmask = mask.unsqueeze(-1).to(tokens.dtype)
        layers = [torch.cat([tokens, tokens], dim=-1) * fmask]
        layers.extend(self.lstm(tokens, mask))
        return layers, mask
