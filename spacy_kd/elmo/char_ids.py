"""ELMo's character ids: each token becomes 50 ids, exactly as allennlp makes them.

Ids 0-255 are the token's UTF-8 bytes, 256-260 are special characters (begin/end
of sentence, begin/end of word, padding), and every id is shifted by +1 so that 0
can mark a padding *token* (a row of zeros). A token keeps at most 48 bytes: the
first and last of the 50 slots hold the begin-of-word and end-of-word markers.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy

MAX_CHARS = 50
BEGIN_OF_SENTENCE_CHAR = 256
END_OF_SENTENCE_CHAR = 257
BEGIN_OF_WORD_CHAR = 258
END_OF_WORD_CHAR = 259
PADDING_CHAR = 260
N_CHARACTERS = 262  # 261 ids (+1 shift) plus the padding-token id 0

BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"


def _special_token(char: int, max_chars: int) -> Tuple[int, ...]:
    ids = [PADDING_CHAR] * max_chars
    ids[0] = BEGIN_OF_WORD_CHAR
    ids[1] = char
    ids[2] = END_OF_WORD_CHAR
    return tuple(c + 1 for c in ids)


def bos_char_ids(max_chars: int = MAX_CHARS) -> Tuple[int, ...]:
    """The (+1 shifted) character ids of the begin-of-sentence token ``<S>``."""
    return _special_token(BEGIN_OF_SENTENCE_CHAR, max_chars)


def eos_char_ids(max_chars: int = MAX_CHARS) -> Tuple[int, ...]:
    """The (+1 shifted) character ids of the end-of-sentence token ``</S>``."""
    return _special_token(END_OF_SENTENCE_CHAR, max_chars)


def token_char_ids(word: str, max_chars: int = MAX_CHARS) -> Tuple[int, ...]:
    """The ``max_chars`` (+1 shifted) character ids of one token.

    ``<S>`` and ``</S>`` map to the sentence-boundary ids, like allennlp's
    ``ELMoCharacterMapper``; any other string is encoded as UTF-8 (invalid
    surrogates dropped) and cut to ``max_chars - 2`` bytes.
    """
    if word == BOS_TOKEN:
        return bos_char_ids(max_chars)
    if word == EOS_TOKEN:
        return eos_char_ids(max_chars)
    encoded = word.encode("utf-8", "ignore")[: max_chars - 2]
    ids = [PADDING_CHAR] * max_chars
    ids[0] = BEGIN_OF_WORD_CHAR
    ids[1 : len(encoded) + 1] = encoded
    ids[len(encoded) + 1] = END_OF_WORD_CHAR
    return tuple(c + 1 for c in ids)


class CharIdCache:
    """Memoise :func:`token_char_ids` per string (a corpus repeats its words)."""

    def __init__(self, max_chars: int = MAX_CHARS, max_size: int = 200_000) -> None:
        self.max_chars = max_chars
        self.max_size = max_size
        self._table: Dict[str, Tuple[int, ...]] = {}

    def __call__(self, word: str) -> Tuple[int, ...]:
        ids = self._table.get(word)
        if ids is None:
            ids = token_char_ids(word, self.max_chars)
            if len(self._table) >= self.max_size:
                self._table.clear()
            self._table[word] = ids
        return ids


def batch_to_char_ids(
    batch: Sequence[Sequence[str]],
    max_chars: Optional[int] = None,
    *,
    cache: Optional[CharIdCache] = None,
) -> numpy.ndarray:
    """Character ids of a batch of token sequences, right-padded with zero rows.

    Returns an int64 array of shape ``(len(batch), longest, max_chars)``, the same
    array as allennlp's ``batch_to_ids`` (sentence boundaries are *not* included:
    the character encoder adds them).

    max_chars: the ids per token (the options' ``max_characters_per_token``);
        default: the cache's, else ``MAX_CHARS``.
    """
    if cache is not None and max_chars is not None and max_chars != cache.max_chars:
        raise ValueError(
            f"max_chars={max_chars} but the cache makes {cache.max_chars} ids a token"
        )
    if max_chars is None:
        max_chars = cache.max_chars if cache is not None else MAX_CHARS
    lookup = cache if cache is not None else CharIdCache(max_chars)
    longest = max((len(tokens) for tokens in batch), default=0)
    out = numpy.zeros((len(batch), longest, max_chars), dtype=numpy.int64)
    for i, tokens in enumerate(batch):
        if tokens:
            out[i, : len(tokens)] = [lookup(word) for word in tokens]
    return out


def char_ids_to_lengths(char_ids: numpy.ndarray) -> List[int]:
    """The number of tokens of each row of a padded ``batch_to_char_ids`` array."""
    return [int(n) for n in (char_ids > 0).any(axis=-1).sum(axis=-1)]
