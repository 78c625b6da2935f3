"""Training sequences: token windows with target ids, the epoch's batches, tensors."""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy

from spacy_kd.elmo.pretrain.vocab import UNK_ID


@dataclass
class LmWindows:
    """Training sequences: token windows and their target ids."""

    tokens: List[Sequence[str]]
    targets: List[numpy.ndarray]

    @property
    def n_tokens(self) -> int:
        return sum(len(t) for t in self.tokens)

    @classmethod
    def build(
        cls, token_lists: Sequence[Sequence[str]], index: Dict[str, int], window: int
    ) -> "LmWindows":
        tokens: List[Sequence[str]] = []
        targets: List[numpy.ndarray] = []
        for doc in token_lists:
            ids = numpy.fromiter(
                (index.get(w, UNK_ID) for w in doc), dtype=numpy.int64, count=len(doc)
            )
            for start in range(0, len(doc), window):
                tokens.append(doc[start : start + window])
                targets.append(ids[start : start + window])
        return cls(tokens, targets)


def epoch_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    max_tokens: Optional[int] = None,
) -> List[List[int]]:
    """The batches of one epoch: a seeded shuffle (cut at ``max_tokens`` tokens),
    sorted by length within pools of 50 batches (less padding), batches shuffled."""
    rng = numpy.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    if max_tokens is not None:
        kept, total = [], 0
        for i in order:
            if total >= max_tokens:
                break
            kept.append(i)
            total += lengths[i]
        order = kept
    pool = 50 * batch_size
    batches: List[List[int]] = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda i: -lengths[i])
        batches.extend(
            chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)
        )
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]


class Batcher:
    """Turn window indices into (char ids, lengths, flat targets) tensors."""

    def __init__(self, windows: LmWindows, device: Any) -> None:
        from spacy_kd.elmo.char_ids import CharIdCache

        self.windows = windows
        self.device = device
        self.cache = CharIdCache()

    def __call__(self, indices: Sequence[int]):
        import torch

        from spacy_kd.elmo.char_ids import batch_to_char_ids

        tokens = [self.windows.tokens[i] for i in indices]
        ids = torch.from_numpy(batch_to_char_ids(tokens, cache=self.cache))
        lengths = torch.tensor([len(t) for t in tokens], dtype=torch.long)
        targets = torch.from_numpy(
            numpy.concatenate([self.windows.targets[i] for i in indices])
        )
        return ids.to(self.device), lengths.to(self.device), targets.to(self.device)
