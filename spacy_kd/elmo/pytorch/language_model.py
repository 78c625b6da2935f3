"""The biLM as a language model: forward predicts the next token, backward the previous.

Both directions share one adaptive softmax over a frequency-sorted vocabulary
(bilm-tf shares its softmax between directions too). Only real tokens are
targets: in a window ``w_1 .. w_n`` the forward LM predicts ``w_j`` from ``<S>,
w_1 .. w_{j-1}`` and the backward LM predicts it from ``w_{j+1} .. w_n, </S>``.
"""

from typing import List, Sequence, Tuple

import torch
from torch import nn

from spacy_kd.elmo.pytorch.bilm import ElmoBiLm


def adaptive_cutoffs(cutoffs: Sequence[int], vocab_size: int) -> List[int]:
    """Keep the cutoffs that fall strictly inside the vocabulary, in order."""
    return sorted({c for c in cutoffs if 0 < c < vocab_size})


class ElmoLanguageModel(nn.Module):
    """A biLM plus a shared adaptive softmax (``torch.nn.AdaptiveLogSoftmaxWithLoss``).

    vocab_size: the number of word ids (targets), sorted by frequency.
    cutoffs: adaptive softmax cluster boundaries (those >= vocab_size are dropped;
        with none left, the softmax is a plain full one).
    dropout: on the top layer's states before the softmax, in training.
    """

    def __init__(
        self,
        bilm: ElmoBiLm,
        vocab_size: int,
        *,
        cutoffs: Sequence[int] = (),
        div_value: float = 4.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.bilm = bilm
        self.dropout = nn.Dropout(dropout)
        self.vocab_size = vocab_size
        dim = bilm.options.projection_dim
        kept = adaptive_cutoffs(cutoffs, vocab_size)
        if kept:
            self.softmax = nn.AdaptiveLogSoftmaxWithLoss(
                dim, vocab_size, kept, div_value=div_value
            )
        else:
            # one cluster only: a full softmax (AdaptiveLogSoftmax needs a cutoff)
            self.softmax = nn.AdaptiveLogSoftmaxWithLoss(
                dim, vocab_size + 1, [vocab_size], div_value=div_value
            )

    def states(
        self, char_ids: torch.Tensor, lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Top-layer states that predict each real token: ``(forward, backward)``.

        Both are ``(n_tokens, projection_dim)``, in row-major order of the valid
        ``(window, position)`` pairs.
        """
        layers, _ = self.bilm(char_ids)
        top = layers[-1]
        half = self.bilm.options.projection_dim
        steps = char_ids.shape[1]
        valid = torch.arange(steps, device=lengths.device).unsqueeze(
            0
        ) < lengths.unsqueeze(1)
        # forward state at boundary position j predicts token j (position j + 1);
        # backward state at position j + 2 predicts it
        forward = top[:, :steps, :half][valid]
        backward = top[:, 2 : steps + 2, half:][valid]
        return forward, backward

    def log_probs(
        self, char_ids: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities of the flat ``targets`` under each direction."""
        forward, backward = self.states(char_ids, lengths)
        forward, backward = self.dropout(forward), self.dropout(backward)
        out = self.softmax(
            torch.cat([forward, backward]), torch.cat([targets, targets])
        )
        n = targets.shape[0]
        return out.output[:n], out.output[n:]

    def forward(
        self, char_ids: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Mean negative log-likelihood over both directions."""
        lp_forward, lp_backward = self.log_probs(char_ids, lengths, targets)
        return -(lp_forward.mean() + lp_backward.mean()) / 2
