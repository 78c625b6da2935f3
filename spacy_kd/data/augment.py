"""A larger transfer set: Tang et al. (2019) augmentation of an unlabelled DocBin.

"Distilling Task-Specific Knowledge from BERT into Simple Neural Networks", section
3.3: the teachers pseudo-annotate noisy copies of the pool's docs, so the student
sees more (and more varied) examples of the teachers' decision function than the
pool holds. Each copy is made from one doc by Tang's rules, in his order:

1. Every word (every token but whitespace), by one uniform draw ``x``: ``x <
   p_mask``: the mask token; ``p_mask <= x < p_mask + p_replace``: another word of
   its class (below); else kept.
2. Then, with probability ``p_ngram``, the whole example is replaced by a
   contiguous window of it.

Mask token: the literal text ``[MASK]``. The BERT teacher (spacy-transformers over
all-MiniLM-L6-v2) hands each window's raw text to the model's fast WordPiece
tokenizer, which matches special tokens in raw text: ``[MASK]`` there becomes the
model's own mask token (id 103), as in Tang's setting (a test checks it with the
real tokenizer). spaCy's tokenizer splits it into ``[``, ``MASK``, ``]``, so the
teachers' TF-IDF n-grams, the ELMo teacher's character CNN and the students see a
rare bracketed word: noise where a word was, which is what Tang's BiLSTM student
made of it (an unknown word).

Replacement (Tang: a word of the same POS tag, from the unigram distribution
re-normalised within the tag). Our pipelines are blank, with no tagger, so the class
is a proxy: the word's spaCy shape (``Xxxxx``, ``xxxx``, ``dd``, ``,``: case,
digits, punctuation, length up to 4) and its frequency band in the corpus
(``floor(log2(count))``). The shape keeps punctuation for punctuation, numbers for
numbers, capitalised words (names, sentence starts) for capitalised words; the band
keeps frequent closed-class words (the, of, and) apart from rare open-class ones,
which is most of what a tag would tell a bag-of-words or contextual teacher. The new
word is drawn from the corpus's own unigram distribution within the class, never the
word itself; a class with no other word falls back to the shape alone, then keeps
the word.

Window length (Tang: n uniform in 1..5, on SST sentences of about 20 tokens). A 1-5
token window of a 300-token post is a poor example of its class, so the length is
``max(n, ceil(f * m))`` capped at ``m``: ``n`` uniform in ``1..max_ngram`` (Tang),
``f`` uniform in ``[0, ngram_fraction)``, ``m`` the doc's words. Short docs get
Tang's n-grams; long docs windows of up to ``ngram_fraction`` of their length.

Words and whitespace: masking and replacement act on spaCy's tokens (``can't,`` is
``ca``, ``n't``, ``,``), windows on whitespace-separated words (``can't,`` is one),
keeping the whitespace between them. spaCy tokenizes each whitespace-separated word
on its own, so a window's text tokenizes to exactly the original's tokens there.
Every copy is its text tokenized again, so a copy's text re-tokenizes to the copy
(``[MASK]`` is three tokens, a replaced word may split or join with its
neighbours).
"""

import bisect
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from spacy.lang.lex_attrs import word_shape
from spacy.tokens import Doc

from spacy_kd.data.docbin import ID_KEY, docbin_bytes, read_docbin
from spacy_kd.data.language import blank_language
from spacy_kd.errors import DataError
from spacy_kd.util import check_default_output, check_outputs, write_bytes_atomic

PathLike = Union[str, Path]
MASK = "[MASK]"
# ``doc.user_data`` key of a copy: the id of the doc it was made from. ``annotate``
# keeps only ``ID_KEY``, so a copy is known there by its id (``is_augmented_id``).
AUGMENTED_KEY = "spacy_kd.augmented_from"
AUG_SEP = "#aug"
WIN_SEP = "#win"  # a window of a long doc (``windows``)
_AUG_ID = re.compile(f"({re.escape(AUG_SEP)}|{re.escape(WIN_SEP)})[0-9]+$")


def augmented_id(orig_id: Any, k: int) -> str:
    """The id of copy ``k`` (1, 2, ...) of the doc with id ``orig_id``."""
    return f"{orig_id}{AUG_SEP}{k}"


def is_augmented_id(doc_id: Any) -> bool:
    """Whether an id is a copy's (``"17#aug2"``) or a window's (``"17#win1"``), not
    an original doc's."""
    return isinstance(doc_id, str) and _AUG_ID.search(doc_id) is not None


def is_augmented(doc: Doc) -> bool:
    """Whether a doc is a copy ``augment`` made (its flag, or failing it its id)."""
    return AUGMENTED_KEY in doc.user_data or is_augmented_id(doc.user_data.get(ID_KEY))


@dataclass
class AugmentSummary:
    input: str
    output: str
    seed: int
    copies: int
    settings: Dict[str, float]
    n_input: int = 0
    n_output: int = 0
    n_augmented: int = 0
    n_windows: int = 0  # of the augmented docs, per-window examples
    # over all copies: words (non-space tokens) before the window cut, words masked
    # and replaced, copies cut to a window
    n_words: int = 0
    n_masked: int = 0
    n_replaced: int = 0
    n_windowed: int = 0
    # False: the output already held exactly these docs and was left as it was
    written: bool = True
    n_word_classes: int = 0
    warnings: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


class ReplacementWords:
    """The corpus's unigram distribution by word class (shape, frequency band)."""

    def __init__(self, docs: Sequence[Doc]) -> None:
        self.counts = Counter(t.text for doc in docs for t in doc if not t.is_space)
        by_class: Dict[Tuple[Any, ...], List[str]] = {}
        for word in sorted(self.counts):  # sorted: independent of hash seeds
            shape = word_shape(word)
            band = int(math.log2(self.counts[word]))
            by_class.setdefault((shape, band), []).append(word)
            by_class.setdefault((shape,), []).append(word)
        # class -> (words, cumulative counts, word -> its position)
        self.classes = {
            key: (
                words,
                list(_cumsum(self.counts[w] for w in words)),
                {w: i for i, w in enumerate(words)},
            )
            for key, words in by_class.items()
        }

    def sample(self, word: str, rng: random.Random) -> Optional[str]:
        """Another word of ``word``'s class, by corpus frequency; None if none."""
        shape = word_shape(word)
        band = int(math.log2(self.counts[word]))
        for key in ((shape, band), (shape,)):
            words, cum, index = self.classes[key]
            if len(words) < 2:
                continue
            own = self.counts[word]
            start = cum[index[word]] - own
            u = rng.randrange(cum[-1] - own)  # integers: an exact draw
            if u >= start:  # skip the word's own share of the mass
                u += own
            return words[bisect.bisect_right(cum, u)]
        return None


def _cumsum(values) -> List[int]:
    total, out = 0, []
    for v in values:
        total += v
        out.append(total)
    return out


def augment_text(
    doc: Doc,
    rng: random.Random,
    words: ReplacementWords,
    *,
    p_mask: float,
    p_replace: float,
    p_ngram: float,
    max_ngram: int,
    ngram_fraction: float,
) -> Tuple[str, Dict[str, int]]:
    """The text of one augmented copy of ``doc`` and its counts (see the module)."""
    pieces: List[Tuple[str, str]] = []  # (text, whitespace after it)
    # the [first, last] positions in ``pieces`` of each whitespace-separated word
    chunks: List[List[int]] = []
    after_space = True
    stats = {"n_words": 0, "n_masked": 0, "n_replaced": 0, "n_windowed": 0}
    for token in doc:
        text = token.text
        if token.is_space:
            after_space = True
        else:
            if after_space:
                chunks.append([len(pieces), len(pieces)])
            chunks[-1][1] = len(pieces)
            after_space = bool(token.whitespace_)
            stats["n_words"] += 1
            x = rng.random()
            if x < p_mask:
                text = MASK
                stats["n_masked"] += 1
            elif x < p_mask + p_replace:
                new = words.sample(text, rng)
                if new is not None:
                    text = new
                    stats["n_replaced"] += 1
        pieces.append((text, token.whitespace_))
    m = len(chunks)
    if m > 1 and rng.random() < p_ngram:
        n = rng.randint(1, max_ngram)
        length = min(m, max(n, math.ceil(rng.random() * ngram_fraction * m)))
        first = rng.randint(0, m - length)
        a, b = chunks[first][0], chunks[first + length - 1][1]
        pieces = pieces[a : b + 1]
        pieces[-1] = (pieces[-1][0], "")
        stats["n_windowed"] += 1
    return "".join(text + ws for text, ws in pieces), stats


def doc_windows(doc: Doc, size: int) -> List[str]:
    """The texts of ``doc``'s consecutive windows of ``size`` whitespace-separated
    words (the last one may be shorter; none for a doc of ``size`` words or fewer).
    Cut between words, so each window re-tokenises as that stretch of the doc."""
    words = doc.text.split()
    if size < 1 or len(words) <= size:
        return []
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]


def augment_docbin(
    input: PathLike,
    output: PathLike,
    *,
    copies: int,
    windows: int = 0,
    seed: int = 0,
    p_mask: float = 0.1,
    p_replace: float = 0.1,
    p_ngram: float = 0.25,
    max_ngram: int = 5,
    ngram_fraction: float = 0.5,
    lang: str = "en",
    overwrite: bool = False,
    extra_outputs: Sequence[Optional[PathLike]] = (),
) -> AugmentSummary:
    """Write every doc of ``input`` unchanged, then ``copies`` augmented copies of
    each (see the module) with no labels, to ``output``.

    Copy ``k`` (1-based) of a doc gets the id ``"{id}#aug{k}"`` and
    ``user_data["spacy_kd.augmented_from"] = id``, where ``id`` is the doc's
    ``spacy_kd_id``, or, if it has none, its position: the id ``annotate`` gives it,
    since the originals keep their positions. The same ``seed`` gives the same
    output whatever the hash seed; copy ``k`` of a doc does not depend on
    ``copies``. p_mask + p_replace <= 1: one draw per word decides both (Tang).
    ngram_fraction: windows of long docs are up to this fraction of them (0: Tang's
    1..max_ngram tokens only). windows: per-window examples as well: each doc longer
    than this many words also yields its consecutive windows of that many words, ids
    ``"{id}#win{k}"`` (k from 1), for the teachers to label one by one (0: none).
    overwrite: replace an existing output that differs (without it an error).
    extra_outputs: files the caller writes afterwards (a summary), checked with the
    output. Nothing is written unless all is well.
    """
    settings = {
        "p_mask": p_mask, "p_replace": p_replace, "p_ngram": p_ngram,
        "max_ngram": max_ngram, "ngram_fraction": ngram_fraction,
    }  # fmt: skip
    _check_settings(copies, settings)
    if isinstance(windows, bool) or not isinstance(windows, int) or windows < 0:
        raise DataError(None, f"--windows must be an integer >= 0, got {windows!r}")
    check_outputs([input], [output, *extra_outputs])
    nlp = blank_language(lang)
    originals = read_docbin(input, vocab=nlp.vocab)
    if not originals:
        raise DataError(input, "holds no docs: nothing to augment")
    words = ReplacementWords(originals)
    summary = AugmentSummary(
        input=str(input), output=str(output), seed=seed, copies=copies,
        settings=settings, n_input=len(originals),
        n_word_classes=sum(len(key) == 2 for key in words.classes),
    )  # fmt: skip
    augmented: List[Doc] = []
    for i, doc in enumerate(originals):
        orig_id = doc.user_data.get(ID_KEY, i)
        for k in range(1, copies + 1):
            rng = random.Random(f"spacy_kd.augment:{seed}:{i}:{k}")
            text, stats = augment_text(
                doc, rng, words, p_mask=p_mask, p_replace=p_replace,
                p_ngram=p_ngram, max_ngram=max_ngram, ngram_fraction=ngram_fraction,
            )  # fmt: skip
            for key, value in stats.items():
                setattr(summary, key, getattr(summary, key) + value)
            copy = nlp.make_doc(text)
            copy.user_data[ID_KEY] = augmented_id(orig_id, k)
            copy.user_data[AUGMENTED_KEY] = orig_id
            augmented.append(copy)
        for k, text in enumerate(doc_windows(doc, windows), start=1):
            window = nlp.make_doc(text)
            window.user_data[ID_KEY] = f"{orig_id}{WIN_SEP}{k}"
            window.user_data[AUGMENTED_KEY] = orig_id
            augmented.append(window)
            summary.n_windows += 1
    if any(is_augmented(doc) for doc in originals):
        summary.warnings.append(
            "the input already holds augmented copies: they were copied again"
        )
    data, summary.n_output = docbin_bytes([*originals, *augmented])
    summary.n_augmented = len(augmented)
    summary.written = check_default_output(output, data, overwrite)
    if summary.written:
        write_bytes_atomic(output, data)
    return summary


def _check_settings(copies: int, settings: Dict[str, float]) -> None:
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
        raise DataError(None, f"--copies must be an integer >= 0, got {copies!r}")
    for name in ("p_mask", "p_replace", "p_ngram", "ngram_fraction"):
        value = settings[name]
        if not 0.0 <= value <= 1.0:  # NaN fails too
            flag = "--" + name.replace("_", "-")
            raise DataError(None, f"{flag} must be in [0, 1], got {value}")
    if settings["p_mask"] + settings["p_replace"] > 1.0:
        raise DataError(
            None,
            "--p-mask + --p-replace must be <= 1 (one draw per word decides both), "
            f"got {settings['p_mask']} + {settings['p_replace']}",
        )
    max_ngram = settings["max_ngram"]
    if isinstance(max_ngram, bool) or not isinstance(max_ngram, int) or max_ngram < 1:
        raise DataError(None, f"--max-ngram must be an integer >= 1, got {max_ngram!r}")
