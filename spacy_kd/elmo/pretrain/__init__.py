"""Pretrain an ELMo biLM on raw text: ``python -m spacy_kd pretrain-elmo``.

The forward LM predicts each token from the ones before it, the backward LM from
the ones after it; both read characters (the ELMo character CNN) and share an
adaptive softmax over the most frequent words. Documents are cut into windows of
``window`` tokens, each a sequence of its own. Every epoch ends with the held-out
perplexity (next to a unigram model's on the same tokens and vocabulary), the
biLM in allennlp's ``options.json`` + ``weights.hdf5`` layout, and a checkpoint
from which ``resume=True`` continues (mid-epoch checkpoints with
``checkpoint_every``). An interrupted run resumed from its checkpoint ends with
exactly the weights of an uninterrupted one.
"""

from spacy_kd.elmo.pretrain.batches import Batcher, LmWindows, epoch_batches
from spacy_kd.elmo.pretrain.corpus import read_token_lists, split_heldout
from spacy_kd.elmo.pretrain.loop import pretrain_elmo
from spacy_kd.elmo.pretrain.metrics import PretrainSummary, unigram_perplexity
from spacy_kd.elmo.pretrain.settings import PRESETS, PretrainSettings
from spacy_kd.elmo.pretrain.vocab import SPECIAL_TOKENS, build_vocab, read_vocab

__all__ = [
    "PRESETS",
    "SPECIAL_TOKENS",
    "Batcher",
    "LmWindows",
    "PretrainSettings",
    "PretrainSummary",
    "build_vocab",
    "epoch_batches",
    "pretrain_elmo",
    "read_token_lists",
    "read_vocab",
    "split_heldout",
    "unigram_perplexity",
]
