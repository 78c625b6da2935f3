"""ELMo's character encoder.

Char embeddings, a CNN of several widths, highway, projection.
"""

from typing import List, Tuple, cast

import torch
from torch import nn

from spacy_kd.elmo.char_ids import PADDING_CHAR, bos_char_ids, eos_char_ids
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.highway import Highway

PADDING_ID = PADDING_CHAR + 1  # the +1 shifted id of the padding character


class ElmoCharacterEncoder(nn.Module):
    """Context-independent token vectors from character ids.

    Input: ``(batch, timesteps, max_chars)`` character ids (0 rows are padding
    tokens, sequences are right-padded). Output: ``(batch, timesteps + 2,
    projection_dim)`` vectors with ``<S>`` and ``</S>`` added around each sequence,
    and the ``(batch, timesteps + 2)`` mask of real positions.
    """

    bos_ids: torch.Tensor
    eos_ids: torch.Tensor

    def __init__(self, options: ElmoOptions) -> None:
        super().__init__()
        self.options = options
        dim = options.char_embed_dim
        # row 0 is the padding token's (all-zero) row; it stays zero
        self.char_embedding = nn.Embedding(options.n_characters, dim, padding_idx=0)
        nn.init.uniform_(self.char_embedding.weight, -1.0, 1.0)
        with torch.no_grad():
            self.char_embedding.weight[0].zero_()
        self.convolutions = nn.ModuleList()
        for width, num in options.filters:
            conv = nn.Conv1d(dim, num, kernel_size=width, bias=True)
            nn.init.normal_(conv.weight, std=(1.0 / (width * dim)) ** 0.5)
            nn.init.zeros_(cast(torch.Tensor, conv.bias))
            self.convolutions.append(conv)
        self.activation = torch.tanh if options.activation == "tanh" else torch.relu
        n_filters = options.n_filters
        self.highway = Highway(n_filters, options.n_highway, activation=torch.relu)
        self.projection = nn.Linear(n_filters, options.projection_dim, bias=True)
        nn.init.normal_(self.projection.weight, std=(1.0 / n_filters) ** 0.5)
        nn.init.zeros_(self.projection.bias)
        max_chars = options.max_characters_per_token
        self.register_buffer(
            "bos_ids",
            torch.tensor(bos_char_ids(max_chars), dtype=torch.long),
            persistent=False,
        )
        self.register_buffer(
            "eos_ids",
            torch.tensor(eos_char_ids(max_chars), dtype=torch.long),
            persistent=False,
        )

    def conv_layers(self) -> List[nn.Conv1d]:
        return [cast(nn.Conv1d, conv) for conv in self.convolutions]

    def add_sentence_boundaries(
        self, char_ids: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Put ``<S>`` before and ``</S>`` after each sequence; return ids and mask."""
        batch, steps, max_chars = char_ids.shape
        lengths = (char_ids > 0).any(dim=-1).sum(dim=-1)
        out = char_ids.new_zeros(batch, steps + 2, max_chars)
        out[:, 1 : steps + 1] = char_ids
        out[:, 0] = self.bos_ids
        out[torch.arange(batch, device=char_ids.device), lengths + 1] = self.eos_ids
        positions = torch.arange(steps + 2, device=char_ids.device)
        mask = positions.unsqueeze(0) < (lengths + 2).unsqueeze(1)
        return out, mask

    def embed_tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """``(n, max_chars)`` character ids to ``(n, projection_dim)`` token vectors."""
        char_ids = self._drop_padding_columns(char_ids)
        # (n, max_chars, dim) -> (n, dim, max_chars)
        chars = self.char_embedding(char_ids).transpose(1, 2)
        pooled = []
        for conv in self.convolutions:
            convolved, _ = conv(chars).max(dim=-1)
            pooled.append(self.activation(convolved))
        token = torch.cat(pooled, dim=-1)
        return self.projection(self.highway(token))

    def _drop_padding_columns(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Cut trailing character columns that cannot change any token's vector.

        Past a word's end every slot holds the padding character, so every conv
        window lying wholly in that tail gives the same value; the max over
        positions needs just one such window per filter width. Keeping
        ``longest word + widest filter`` columns leaves every real token's vector
        exactly as with all columns (padding-token rows, all zeros, are masked
        downstream anyway).
        """
        max_chars = char_ids.shape[1]
        real = char_ids[:, 0] > 0
        if not bool(real.any()):
            return char_ids
        used = (char_ids[real] != PADDING_ID).sum(dim=1).max().item()
        keep = min(max_chars, int(used) + max(w for w, _ in self.options.filters))
        return char_ids[:, :keep] if keep < max_chars else char_ids

    def forward(self, char_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        with_boundaries, mask = self.add_sentence_boundaries(char_ids)
        batch, steps, max_chars = with_boundaries.shape
        flat = with_boundaries.reshape(-1, max_chars)
        # a batch repeats its words: run the CNN once per distinct token
        unique, inverse = torch.unique(flat, dim=0, return_inverse=True)
        vectors = self.embed_tokens(unique)[inverse]
        return vectors.reshape(batch, steps, -1), mask
