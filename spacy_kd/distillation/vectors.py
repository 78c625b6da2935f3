"""Static word vectors distilled from a transformer encoder (the model2vec recipe).

The teacher's encoder (all-MiniLM-L6-v2) reads each word of the corpus' vocabulary
alone; its output, mean-pooled over the word's subwords, reduced by PCA and weighted
by the word's estimated frequency, becomes that word's static vector: a table the
student's CNN (``spacy-kd.VectorCNN.v1``) looks up without torch. This follows
model2vec's ``distill`` (https://github.com/MinishLab/model2vec), written here as a
few lines over the ``transformers`` we have: model2vec 0.10 needs
huggingface-hub >= 1.0 (only transformers 5 accepts it), while spacy-transformers 1.4
pins transformers < 4.53.3, which needs huggingface-hub < 1.0, so the two cannot
share an environment. Two departures from model2vec: the vocabulary is the corpus'
own words (spaCy's tokens, lowercased), not the encoder tokenizer's, and the mean
leaves out [CLS] and [SEP].

The vectors are keyed by the LOWER form of a word: the spaCy table is made with
``attr="LOWER"`` so StaticVectors (which reads the table's ``attr``) looks tokens up
by their lowercase form. A word outside the table gets a zero static vector; the
student still sees it through its hash embeddings of NORM, PREFIX, SUFFIX and SHAPE.

torch and transformers are imported inside the functions that need them only.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from spacy_kd.data.docbin import read_docbin
from spacy_kd.errors import DataError
from spacy_kd.util import (
    atomic_folder,
    atomic_open,
    check_default_output,
    check_outputs,
    write_json_atomic,
)

PathLike = Union[str, Path]
DEFAULT_DIMS = 256
DEFAULT_MIN_COUNT = 2
DEFAULT_MAX_WORDS = 50000
DEFAULT_BATCH_SIZE = 256
# model2vec's default SIF coefficient (its ``sif_coefficient``)
SIF_COEFFICIENT = 1e-4
# subwords of one word read by the encoder at most (a URL can be hundreds)
MAX_PIECES = 32
VECTORS_FILE = "vectors.txt"
SUMMARY_FILE = "summary.json"
SPACY_DIR = "spacy"  # what a config's [initialize] vectors points to


@dataclass
class VectorsSummary:
    output_dir: str
    encoder: str
    docs: List[str]
    n_docs: int
    n_tokens: int
    n_distinct: int  # distinct lowercase words in the docs
    n_words: int  # rows of the table
    dims: int
    min_count: int
    max_words: int
    explained_variance: float  # fraction of the centred variance the PCA kept
    sif_coefficient: float
    encode_seconds: float
    seconds: float
    dropped: List[str] = field(default_factory=list)  # words with no subwords

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


def count_words(docs: Iterable[Doc]) -> Tuple[Counter, int]:
    """The lowercase forms of the docs' tokens with their counts, and the number of
    tokens read. Words holding whitespace are left out (a vectors file line cannot
    hold them, and spaCy's whitespace tokens carry no meaning)."""
    counts: Counter = Counter()
    n_tokens = 0
    for doc in docs:
        n_tokens += len(doc)
        counts.update(t.lower_ for t in doc)
    for word in [w for w in counts if not w or any(c.isspace() for c in w)]:
        del counts[word]
    return counts, n_tokens


def select_vocabulary(
    counts: Counter, min_count: int = DEFAULT_MIN_COUNT, max_words: int = 0
) -> List[str]:
    """The words seen at least ``min_count`` times, most frequent first (ties in
    alphabetical order), at most ``max_words`` of them (0: all)."""
    kept = sorted(
        (w for w, n in counts.items() if n >= min_count), key=_rank_key(counts)
    )
    return kept[:max_words] if max_words > 0 else kept


def _rank_key(counts: Counter):
    return lambda word: (-counts[word], word)


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
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    encoder = AutoModel.from_pretrained(str(encoder_dir)).eval()
    width = int(encoder.config.hidden_size)
    out = numpy.zeros((len(words), width), dtype="float32")
    has_pieces = numpy.zeros((len(words),), dtype=bool)
    # batches of words of similar length pad least
    order = sorted(range(len(words)), key=lambda i: (len(words[i]), i))
    previous = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
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
    finally:
        torch.set_num_threads(previous)
    return out, has_pieces


def pca(X: numpy.ndarray, dims: int) -> Tuple[numpy.ndarray, float]:
    """``X`` centred and projected on its first ``dims`` principal components, with
    the fraction of the variance they explain.

    The components come from the SVD of the (features x features) scatter matrix
    in float64 (for a symmetric matrix its eigendecomposition, as model2vec's PCA):
    as exact as the SVD of X itself, and ~50 times faster on 20k x 384. The sign of
    each component is fixed (its largest loading positive) so that reruns agree.
    """
    Xc = X.astype("float64")
    Xc -= Xc.mean(axis=0)
    _, S, Vt = numpy.linalg.svd(Xc.T @ Xc)  # S: the variances times (n - 1)
    dims = min(dims, len(X), len(S))
    signs = numpy.sign(Vt[numpy.arange(len(S)), numpy.abs(Vt).argmax(axis=1)])
    signs[signs == 0] = 1.0
    Y = Xc @ (Vt[:dims].T * signs[:dims])
    total = float(S.sum())
    explained = float(S[:dims].sum() / total) if total > 0 else 1.0
    return Y, explained


def zipf_weights(n: int, sif_coefficient: float = SIF_COEFFICIENT) -> numpy.ndarray:
    """The weight of row i (rank i by frequency, 0-based) of an ``n``-row table.

    model2vec 0.10 (``compute_weights``) does not count words: it takes the
    vocabulary as sorted by frequency and estimates each word's probability by
    Zipf's law, p_i proportional to 1 / (i + 2) (normalised over the n words), then
    weights the row by SIF, a / (a + p_i) with a = 1e-4: the most frequent words,
    whose contextless vectors say least, are scaled towards zero, rare words keep
    about their length. (Earlier model2vec versions scaled row i by log(1 + i),
    the same idea.) We rank by our own counts and apply the same estimate, so the
    weights depend on the rank only, as model2vec's do.
    """
    inverse_rank = 1.0 / numpy.arange(2, n + 2, dtype="float64")
    probability = inverse_rank / inverse_rank.sum()
    return sif_coefficient / (sif_coefficient + probability)


def write_word2vec(
    path: PathLike, words: Sequence[str], vectors: numpy.ndarray
) -> None:
    """A word2vec text file ("N DIMS", then "word v1 v2 ..."), written atomically."""
    with atomic_open(path, "w") as f:
        f.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, row in zip(words, vectors):
            f.write(word + " " + " ".join(f"{v:.6g}" for v in row) + "\n")


def init_spacy_vectors(vectors_file: PathLike, output: PathLike, lang: str) -> None:
    """What ``spacy init vectors LANG FILE OUTPUT --attr LOWER`` does (through the
    function it calls), into a folder beside ``output`` renamed onto it at the end."""
    from spacy.training.initialize import convert_vectors
    from spacy.util import get_lang_class

    output = Path(output)
    nlp = get_lang_class(lang)()
    convert_vectors(nlp, Path(vectors_file), truncate=0, prune=-1, attr="LOWER")
    with atomic_folder(output) as tmp:
        nlp.to_disk(tmp)


def distill_vectors(
    encoder_dir: PathLike,
    output_dir: PathLike,
    docs: Sequence[PathLike],
    *,
    dims: int = DEFAULT_DIMS,
    min_count: int = DEFAULT_MIN_COUNT,
    max_words: int = DEFAULT_MAX_WORDS,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int = 0,
    lang: str = "en",
    overwrite: bool = False,
) -> VectorsSummary:
    """Write OUTPUT_DIR/vectors.txt (word2vec text), summary.json and spacy/ (the
    spaCy vectors folder a config's ``[initialize] vectors`` names), distilled from
    the encoder in ``encoder_dir`` over the words of the ``docs`` DocBins.

    dims: vector width (capped at the number of words and the encoder's width).
    max_words: the most frequent words kept (0: all with ``min_count``).
    overwrite: replace outputs of an earlier run (without it they are an error).
    Nothing is written unless every output can be.
    """
    started = time.perf_counter()
    encoder_dir, output_dir = Path(encoder_dir), Path(output_dir)
    paths = [Path(p) for p in docs]
    _check_settings(dims, min_count, max_words, batch_size, threads, paths)
    _check_encoder(encoder_dir)
    vectors_path = output_dir / VECTORS_FILE
    summary_path = output_dir / SUMMARY_FILE
    spacy_dir = output_dir / SPACY_DIR
    _check_not_inside(output_dir, spacy_dir, [encoder_dir, *paths])
    check_outputs(paths, [vectors_path, summary_path], folders=[output_dir, spacy_dir])
    for path in (vectors_path, summary_path):
        check_default_output(path, None, overwrite)
    if spacy_dir.exists() and not overwrite:
        raise DataError(
            spacy_dir,
            "already exists; pass --overwrite to replace it, or write elsewhere "
            "(nothing was written)",
        )
    counts: Counter = Counter()
    n_docs = n_tokens = 0
    for path in paths:
        loaded = read_docbin(path, lang)
        n_docs += len(loaded)
        found, tokens = count_words(loaded)
        counts.update(found)
        n_tokens += tokens
    words = select_vocabulary(counts, min_count, max_words)
    if len(words) < 2:
        where = paths[0] if len(paths) == 1 else None
        raise DataError(
            where,
            f"{n_docs} docs, {n_tokens} tokens: {len(words)} words seen at least "
            f"{min_count} times; the vectors need 2 or more (lower --min-count, or "
            "give more docs)",
        )
    encode_start = time.perf_counter()
    X, has_pieces = encode_words(
        encoder_dir, words, batch_size=batch_size, threads=threads
    )
    encode_seconds = time.perf_counter() - encode_start
    dropped = [w for w, ok in zip(words, has_pieces) if not ok]
    words = [w for w, ok in zip(words, has_pieces) if ok]
    if len(words) < 2:
        raise DataError(encoder_dir, "the tokenizer made subwords of < 2 words")
    Y, explained = pca(X[has_pieces], dims)
    Y *= zipf_weights(len(words))[:, None]
    output_dir.mkdir(parents=True, exist_ok=True)
    write_word2vec(vectors_path, words, Y.astype("float32"))
    init_spacy_vectors(vectors_path, spacy_dir, lang)
    summary = VectorsSummary(
        output_dir=str(output_dir), encoder=str(encoder_dir),
        docs=[str(p) for p in paths], n_docs=n_docs, n_tokens=n_tokens,
        n_distinct=len(counts), n_words=len(words), dims=int(Y.shape[1]),
        min_count=min_count, max_words=max_words,
        explained_variance=round(explained, 6), sif_coefficient=SIF_COEFFICIENT,
        encode_seconds=round(encode_seconds, 3),
        seconds=round(time.perf_counter() - started, 3), dropped=dropped,
    )  # fmt: skip
    write_json_atomic(summary_path, summary.to_dict())
    return summary


def _check_settings(dims, min_count, max_words, batch_size, threads, paths) -> None:
    if not paths:
        raise DataError(None, "no docs given: pass one or more --docs FILE.spacy")
    for name, value, low in (
        ("--dims", dims, 1),
        ("--min-count", min_count, 1),
        ("--max-words", max_words, 0),
        ("--batch-size", batch_size, 1),
        ("--threads", threads, 0),
    ):
        if value < low:
            raise DataError(None, f"{name} must be >= {low}, got {value}")


def _check_encoder(encoder_dir: Path) -> None:
    if not encoder_dir.exists():
        raise DataError(
            encoder_dir,
            "encoder folder not found (python -m spacy_kd fetch-minilm makes one)",
        )
    if not encoder_dir.is_dir() or not (encoder_dir / "config.json").exists():
        raise DataError(
            encoder_dir, "not a transformers model folder (no config.json in it)"
        )


def _check_not_inside(output_dir: Path, spacy_dir: Path, inputs: List[Path]) -> None:
    """Refuse an output folder that is an input (the encoder's folder), and inputs
    under spacy/ (which is replaced as a whole)."""
    for source in inputs:
        resolved = source.resolve()
        if resolved == output_dir.resolve():
            raise DataError(
                output_dir,
                "is an input of this command; write the output elsewhere (nothing "
                "was written)",
            )
        if _under(resolved, spacy_dir.resolve()):
            raise DataError(
                output_dir,
                f"holds an input of this command ({source}) in {SPACY_DIR}/, which "
                "is replaced; write the output elsewhere (nothing was written)",
            )


def _under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def words_per_second(summary: VectorsSummary) -> float:
    """Encoding speed: words through the encoder per second."""
    n = summary.n_words + len(summary.dropped)
    return n / summary.encode_seconds if summary.encode_seconds > 0 else math.inf
