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

Fitting the vectors to the teacher's doc features: ``spacy_kd.distillation.vector_fit``.

torch and transformers are imported inside the functions that need them only.
"""

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from spacy_kd.data.docbin import read_docbin
from spacy_kd.distillation.encoder import (
    DEFAULT_BATCH_SIZE,
    encode_words,
    encoder_words,
)
from spacy_kd.distillation.vector_fit import (
    DEFAULT_FIT_EPOCHS,
    DEFAULT_FIT_L2,
    DEFAULT_FIT_TOKENS,
    check_fit_settings,
    fit_vectors,
)
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
# model2vec's default SIF coefficient (its ``sif_coefficient``)
SIF_COEFFICIENT = 1e-4
VECTORS_FILE = "vectors.txt"
SUMMARY_FILE = "summary.json"
SPACY_DIR = "spacy"  # what a config's [initialize] vectors points to
# where the words come from: the docs, or the docs and then the encoder's own words
VOCABS = ("corpus", "corpus+encoder")


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
    fit: Optional[Dict] = None  # FitSummary.to_dict() when fitted to fit docs
    vocab: str = "corpus"
    n_encoder_words: int = 0  # words from the encoder's vocabulary, not the docs

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
    fit_docs: Sequence[PathLike] = (),
    fit_l2: float = DEFAULT_FIT_L2,
    fit_epochs: int = DEFAULT_FIT_EPOCHS,
    fit_tokens: int = DEFAULT_FIT_TOKENS,
    vocab: str = "corpus",
) -> VectorsSummary:
    """Write OUTPUT_DIR/vectors.txt (word2vec text), summary.json and spacy/ (the
    spaCy vectors folder a config's ``[initialize] vectors`` names), distilled from
    the encoder in ``encoder_dir`` over the words of the ``docs`` DocBins.

    dims: vector width (capped at the number of words and the encoder's width).
    max_words: the most frequent words kept (0: all with ``min_count``).
    overwrite: replace outputs of an earlier run (without it they are an error).
    fit_docs: DocBins whose docs the vectors are then fitted to (see the module
    docstring): each doc's first ``fit_tokens`` tokens through the encoder, and the
    table fitted with ridge penalty ``fit_l2`` in ``fit_epochs`` Adam steps. Empty,
    or ``fit_epochs`` 0: model2vec's vectors (PCA and Zipf weights).
    vocab: ``corpus``, the docs' words; ``corpus+encoder``, then the whole words of
    the encoder tokenizer's vocabulary that the docs do not hold (model2vec's own
    vocabulary: words the student meets only in other text get a vector; ranked
    after the docs' words, and not counted by ``max_words``).
    Nothing is written unless every output can be.
    """
    started = time.perf_counter()
    encoder_dir, output_dir = Path(encoder_dir), Path(output_dir)
    paths = [Path(p) for p in docs]
    fit_paths = [Path(p) for p in fit_docs]
    _check_settings(dims, min_count, max_words, batch_size, threads, paths)
    check_fit_settings(fit_l2, fit_epochs, fit_tokens)
    if vocab not in VOCABS:
        raise DataError(
            None, f"--vocab must be one of {', '.join(VOCABS)}, got {vocab!r}"
        )
    _check_encoder(encoder_dir)
    vectors_path = output_dir / VECTORS_FILE
    summary_path = output_dir / SUMMARY_FILE
    spacy_dir = output_dir / SPACY_DIR
    _check_not_inside(output_dir, spacy_dir, [encoder_dir, *paths, *fit_paths])
    check_outputs(
        [*paths, *fit_paths],
        [vectors_path, summary_path],
        folders=[output_dir, spacy_dir],
    )
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
    fit_keys = {p.resolve() for p in fit_paths} if fit_epochs > 0 else set()
    kept_docs: Dict[Path, List[Doc]] = {}  # read once: a --docs file also fitted to
    for path in paths:
        loaded = read_docbin(path, lang)
        if path.resolve() in fit_keys:
            kept_docs[path.resolve()] = loaded
        n_docs += len(loaded)
        found, tokens = count_words(loaded)
        counts.update(found)
        n_tokens += tokens
    words = select_vocabulary(counts, min_count, max_words)
    n_corpus = len(words)
    if len(words) < 2:
        where = paths[0] if len(paths) == 1 else None
        raise DataError(
            where,
            f"{n_docs} docs, {n_tokens} tokens: {len(words)} words seen at least "
            f"{min_count} times; the vectors need 2 or more (lower --min-count, or "
            "give more docs)",
        )
    if vocab == "corpus+encoder":
        known = set(words)
        words += [w for w in encoder_words(encoder_dir) if w not in known]
    encode_start = time.perf_counter()
    X, has_pieces = encode_words(
        encoder_dir, words, batch_size=batch_size, threads=threads
    )
    encode_seconds = time.perf_counter() - encode_start
    dropped = [w for w, ok in zip(words, has_pieces) if not ok]
    words = [w for w, ok in zip(words, has_pieces) if ok]
    if len(words) < 2:
        raise DataError(encoder_dir, "the tokenizer made subwords of < 2 words")
    fit = None
    if fit_paths and fit_epochs > 0:
        V, fit = fit_vectors(
            encoder_dir, fit_paths, words, X[has_pieces], lang=lang, l2=fit_l2,
            epochs=fit_epochs, max_tokens=fit_tokens, threads=threads,
            loaded=kept_docs,
        )  # fmt: skip
        if dims < V.shape[1]:
            Y, explained = pca(V, dims)
        else:
            Y, explained = V.astype("float64"), 1.0
    else:
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
        fit=fit.to_dict() if fit is not None else None, vocab=vocab,
        n_encoder_words=int(has_pieces[n_corpus:].sum()),
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
