"""The teacher's encoder run over words and over docs, for the static vectors.

``encode_words`` reads each word alone (model2vec's recipe,
``spacy_kd.distillation.vectors``); ``encode_docs`` reads a doc as the BERT teacher
does and gives its feature (``spacy_kd.distillation.vector_fit``). torch and
transformers are imported inside the functions that need them only.
"""

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Sequence, Tuple, Union

import numpy

PathLike = Union[str, Path]
DEFAULT_BATCH_SIZE = 256  # words per encoder batch
DOC_BATCH_SIZE = 32
# subwords of one word read by the encoder at most (a URL can be hundreds)
MAX_PIECES = 32
# wordpieces of one doc read by the encoder at most
MAX_DOC_PIECES = 256
WORD_START_MARKERS = ("\u2581", "\u0120")  # SentencePiece's and byte-level BPE's


def encode_words(
    encoder_dir: PathLike,
    words: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int = 0,
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """Each word through the encoder alone ([CLS] word [SEP]), the last hidden
    state mean-pooled over the word's own subwords: a float32 array (words x
    hidden), and a boolean array, False for a word the tokenizer made no subwords of
    (its row is zeros).

    threads: torch's intra-op threads while encoding (0: leave torch's setting).
    """
    import torch

    tokenizer, encoder = load_encoder(encoder_dir)
    out = numpy.zeros((len(words), int(encoder.config.hidden_size)), dtype="float32")
    has_pieces = numpy.zeros((len(words),), dtype=bool)
    with torch_threads(threads), torch.no_grad():
        for rows in length_batches(words, batch_size):
            batch = tokenizer(
                [words[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=MAX_PIECES + 2,
                return_special_tokens_mask=True,
                return_tensors="pt",
            )
            special = batch.pop("special_tokens_mask")
            own = batch["attention_mask"] * (1 - special)  # the word's subwords
            hidden = encoder(**batch).last_hidden_state
            n = own.sum(dim=1, keepdim=True)
            pooled = (hidden * own.unsqueeze(-1)).sum(dim=1) / n.clamp(min=1)
            out[rows] = pooled.float().numpy()
            has_pieces[rows] = (n[:, 0] > 0).numpy()
    return out, has_pieces


def encode_docs(
    encoder_dir: PathLike,
    texts: Sequence[str],
    *,
    batch_size: int = DOC_BATCH_SIZE,
    threads: int = 0,
    max_pieces: int = MAX_DOC_PIECES,
) -> numpy.ndarray:
    """Each text through the encoder, its last hidden state averaged over every
    wordpiece ([CLS] and [SEP] included, padding not) and L2-normalised: the BERT
    teacher's doc feature (``spacy_kd.teachers.frozen.build_trf_pooler``, mean
    pooling, normalize) for a text of one window. A float32 array (texts x hidden).

    max_pieces: wordpieces read per text, the special ones included (the rest is cut).
    threads: torch's intra-op threads while encoding (0: leave torch's setting).
    """
    import torch

    tokenizer, encoder = load_encoder(encoder_dir)
    out = numpy.zeros((len(texts), int(encoder.config.hidden_size)), dtype="float32")
    with torch_threads(threads), torch.no_grad():
        for rows in length_batches(texts, batch_size):
            batch = tokenizer(
                [texts[i] for i in rows],
                padding=True,
                truncation=True,
                max_length=max_pieces,
                return_tensors="pt",
            )
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).float().numpy()
    return out


def encoder_words(encoder_dir: PathLike) -> List[str]:
    """The whole words of the encoder tokenizer's vocabulary, in its id order
    (:func:`whole_words` of its entries, special tokens left out): model2vec's own
    vocabulary, for the words that the docs do not hold."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    special = set(tokenizer.all_special_tokens)
    return whole_words([piece for piece, _ in vocab if piece not in special])


def whole_words(entries: Sequence[str]) -> List[str]:
    """The entries of a subword vocabulary that are whole words of two or more
    lowercase letters, in order, each once. Word-internal pieces are left out:
    WordPiece's ``##`` continuations, or, for a vocabulary that marks word starts
    with U+2581 or U+0120 (SentencePiece, byte-level BPE; more than a tenth of the
    entries marked), every unmarked entry (the marker is removed from the others)."""
    marked = sum(1 for piece in entries if piece[:1] in WORD_START_MARKERS)
    by_marker = marked > len(entries) // 10
    words: List[str] = []
    seen = set()
    for piece in entries:
        if by_marker:
            if piece[:1] not in WORD_START_MARKERS:
                continue
            piece = piece[1:]
        elif piece.startswith("##"):
            continue
        if len(piece) >= 2 and piece.isalpha() and piece == piece.lower():
            if piece not in seen:
                seen.add(piece)
                words.append(piece)
    return words


def load_encoder(encoder_dir: PathLike):
    """The encoder folder's tokenizer and model (in eval mode)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    return tokenizer, AutoModel.from_pretrained(str(encoder_dir)).eval()


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` inside (0: left as they are)."""
    import torch

    previous = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def length_batches(texts: Sequence[str], batch_size: int) -> Iterator[List[int]]:
    """The indices of ``texts`` in batches of similar length (they pad least)."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
