"""Held-out perplexities (the biLM's and a unigram model's) and the run's summary."""

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy

from spacy_kd.elmo.pretrain.batches import Batcher, LmWindows


@dataclass
class EpochMetrics:
    """What one epoch scored, as ``metrics.json`` lists it."""

    epoch: int
    steps: int
    train_tokens: int
    train_loss: float
    heldout_ppl_forward: float
    heldout_ppl_backward: float
    heldout_ppl: float
    unigram_ppl: float
    seconds: float
    train_tokens_per_second: float


@dataclass
class PretrainSummary:
    """Settings, corpus statistics and per-epoch metrics of a run (``metrics.json``)."""

    output_dir: str
    settings: Dict[str, Any]
    n_docs: int
    n_train_docs: int
    n_heldout_docs: int
    n_train_tokens: int
    n_heldout_tokens: int
    vocab_size: int
    train_oov_rate: float
    heldout_oov_rate: float
    unigram_ppl: float
    epochs: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> Optional[Dict[str, Any]]:
        return self.epochs[-1] if self.epochs else None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def unigram_perplexity(train: LmWindows, heldout: LmWindows, vocab_size: int) -> float:
    """Held-out perplexity of an add-one unigram model over the same vocabulary."""
    counts = numpy.bincount(
        numpy.concatenate(train.targets)
        if train.targets
        else numpy.zeros(0, numpy.int64),
        minlength=vocab_size,
    ).astype(numpy.float64)
    probs = (counts + 1.0) / (counts.sum() + vocab_size)
    targets = numpy.concatenate(heldout.targets)
    return float(numpy.exp(-numpy.log(probs[targets]).mean()))


def evaluate_heldout(lm, batcher: Batcher, batch_size: int) -> Tuple[float, float]:
    """Perplexity of the forward and of the backward LM on every held-out token."""
    import torch

    was_training = lm.training
    lm.eval()
    nll_f = nll_b = 0.0
    n = 0
    order = sorted(
        range(len(batcher.windows.tokens)),
        key=lambda i: -len(batcher.windows.tokens[i]),
    )
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            ids, lengths, targets = batcher(order[b : b + batch_size])
            lp_f, lp_b = lm.log_probs(ids, lengths, targets)
            nll_f -= float(lp_f.double().sum())
            nll_b -= float(lp_b.double().sum())
            n += int(targets.shape[0])
    lm.train(was_training)
    return math.exp(nll_f / n), math.exp(nll_b / n)
