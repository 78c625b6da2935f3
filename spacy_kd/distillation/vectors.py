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

Fitted to the teacher's doc features (``fit_docs``; the idea of MinishLab's
tokenlearn, done here as a least-squares fit): model2vec's vectors see each word
alone, out of context, and a doc's mean of them is far from what the encoder makes
of the doc. With ``fit_docs`` the vectors are then fitted so that the mean vector
of each fit doc's words comes close to the encoder's own feature of that doc, the
BERT teacher's feature (mean over its wordpieces, L2-normalised); a ridge penalty
holds each word near its model2vec vector (scaled), so a word the fit docs never
show keeps that. The fitted vectors are not Zipf-weighted (the fit sets each word's
weight in the mean), and PCA applies after the fit only when ``dims`` is below the
encoder's width. Measured in ``README.md``, "Vectors fitted to the teacher's doc
features".

torch and transformers are imported inside the functions that need them only.
"""

import math
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

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
# fitting the vectors to the teacher's doc features (fit_docs)
DEFAULT_FIT_L2 = 0.3
DEFAULT_FIT_EPOCHS = 300
DEFAULT_FIT_TOKENS = 128  # a fit doc's first tokens: the encoder reads these only
FIT_LEARN_RATE = 0.01
DOC_BATCH_SIZE = 32
# wordpieces of one fit doc read by the encoder at most
MAX_DOC_PIECES = 256
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
    fit: Optional[Dict] = None  # FitSummary.to_dict() when fitted to fit docs

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


@dataclass
class FitSummary:
    """How the vectors were fitted to the teacher's doc features."""

    docs: List[str]
    n_docs: int  # fit docs with at least one word of the table
    max_tokens: int
    l2: float
    epochs: int
    learn_rate: float
    n_words_seen: int  # rows of the table some fit doc holds
    # mean cosine between a doc's mean vector and the teacher's feature of it
    cosine_before: float  # with model2vec's vectors, scaled
    cosine_after: float
    scale: float  # the least-squares scale of model2vec's vectors
    encode_seconds: float
    seconds: float

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

    tokenizer, encoder = _load_encoder(encoder_dir)
    out = numpy.zeros((len(words), int(encoder.config.hidden_size)), dtype="float32")
    has_pieces = numpy.zeros((len(words),), dtype=bool)
    with _torch_threads(threads), torch.no_grad():
        for rows in _length_batches(words, batch_size):
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

    tokenizer, encoder = _load_encoder(encoder_dir)
    out = numpy.zeros((len(texts), int(encoder.config.hidden_size)), dtype="float32")
    with _torch_threads(threads), torch.no_grad():
        for rows in _length_batches(texts, batch_size):
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


def _load_encoder(encoder_dir: PathLike):
    """The encoder folder's tokenizer and model (in eval mode)."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir))
    return tokenizer, AutoModel.from_pretrained(str(encoder_dir)).eval()


@contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` inside (0: left as they are)."""
    import torch

    previous = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _length_batches(texts: Sequence[str], batch_size: int) -> Iterator[List[int]]:
    """The indices of ``texts`` in batches of similar length (they pad least)."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def mean_matrix(
    docs: Sequence[Doc], words: Sequence[str], max_tokens: int
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The sparse (docs x words) matrix that averages the rows of a words table
    over each doc's first ``max_tokens`` tokens (by their lowercase form; a token
    outside ``words`` is left out of the mean), as COO arrays (rows, cols, values),
    and the indices of the docs with at least one token in ``words`` (the rows).
    A word twice in a doc gets twice the weight, as in the student's mean."""
    index = {w: i for i, w in enumerate(words)}
    rows: List[int] = []
    cols: List[int] = []
    values: List[float] = []
    kept: List[int] = []
    for i, doc in enumerate(docs):
        found = [index[t.lower_] for t in doc[:max_tokens] if t.lower_ in index]
        if not found:
            continue
        row = len(kept)
        kept.append(i)
        for j, n in sorted(Counter(found).items()):
            rows.append(row)
            cols.append(j)
            values.append(n / len(found))
    return (
        numpy.asarray(rows, dtype="int64"),
        numpy.asarray(cols, dtype="int64"),
        numpy.asarray(values, dtype="float32"),
        numpy.asarray(kept, dtype="int64"),
    )


def fit_to_features(
    X: numpy.ndarray,
    mean: Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray],
    features: numpy.ndarray,
    *,
    l2: float = DEFAULT_FIT_L2,
    epochs: int = DEFAULT_FIT_EPOCHS,
    learn_rate: float = FIT_LEARN_RATE,
    threads: int = 0,
) -> Tuple[numpy.ndarray, Dict[str, float]]:
    """The words table V that minimises

        mean over docs of |M_d V - f_d|^2  +  l2 * mean over words of |V_w - s X_w|^2

    where M_d averages the doc's words (``mean``: rows, cols, values of
    ``mean_matrix``), f_d is the teacher's feature of the doc, X the model2vec
    vectors and s the least-squares scale of X (so that |M X s - F| is least):
    full-batch Adam from V = s X, ``epochs`` steps, deterministic. Returns V
    (float32) and the scale and mean cosines between M V and F before and after.
    """
    import torch

    rows, cols, values = mean
    n_docs = int(features.shape[0])
    with _torch_threads(threads):
        M = torch.sparse_coo_tensor(
            torch.from_numpy(numpy.stack([rows, cols])),
            torch.from_numpy(values),
            (n_docs, X.shape[0]),
            check_invariants=True,
        ).coalesce()
        F = torch.from_numpy(numpy.ascontiguousarray(features, dtype="float32"))
        X0 = torch.from_numpy(numpy.ascontiguousarray(X, dtype="float32"))
        MX = torch.sparse.mm(M, X0)
        scale = float((MX * F).sum() / (MX * MX).sum().clamp(min=1e-12))
        start = X0 * scale
        V = start.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([V], lr=learn_rate)

        def cosine() -> float:
            with torch.no_grad():
                got = torch.sparse.mm(M, V)
                return float(torch.nn.functional.cosine_similarity(got, F).mean())

        before = cosine()
        for _ in range(epochs):
            optimizer.zero_grad()
            error = ((torch.sparse.mm(M, V) - F) ** 2).sum(dim=1).mean()
            penalty = ((V - start) ** 2).sum(dim=1).mean()
            (error + l2 * penalty).backward()
            optimizer.step()
        after = cosine()
    report = {"scale": scale, "cosine_before": before, "cosine_after": after}
    return V.detach().numpy().astype("float32"), report


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
    Nothing is written unless every output can be.
    """
    started = time.perf_counter()
    encoder_dir, output_dir = Path(encoder_dir), Path(output_dir)
    paths = [Path(p) for p in docs]
    fit_paths = [Path(p) for p in fit_docs]
    _check_settings(dims, min_count, max_words, batch_size, threads, paths)
    _check_fit_settings(fit_l2, fit_epochs, fit_tokens)
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
    fit = None
    if fit_paths and fit_epochs > 0:
        V, fit = _fit(
            encoder_dir, fit_paths, words, X[has_pieces], lang=lang, l2=fit_l2,
            epochs=fit_epochs, max_tokens=fit_tokens, threads=threads,
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
        fit=fit.to_dict() if fit is not None else None,
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


def _fit(
    encoder_dir: Path,
    paths: List[Path],
    words: List[str],
    X: numpy.ndarray,
    *,
    lang: str,
    l2: float,
    epochs: int,
    max_tokens: int,
    threads: int,
) -> Tuple[numpy.ndarray, FitSummary]:
    """The words table ``X`` fitted to the encoder's features of the docs of
    ``paths`` (each doc's first ``max_tokens`` tokens)."""
    started = time.perf_counter()
    fit_docs: List[Doc] = []
    for path in paths:
        fit_docs.extend(read_docbin(path, lang))
    rows, cols, values, kept = mean_matrix(fit_docs, words, max_tokens)
    if len(kept) == 0:
        where = paths[0] if len(paths) == 1 else None
        raise DataError(
            where,
            f"{len(fit_docs)} fit docs, none holding a word of the vectors table "
            "(nothing was written)",
        )
    texts = [fit_docs[i][:max_tokens].text for i in kept]
    encode_start = time.perf_counter()
    features = encode_docs(encoder_dir, texts, threads=threads)
    encode_seconds = time.perf_counter() - encode_start
    V, report = fit_to_features(
        X, (rows, cols, values), features, l2=l2, epochs=epochs, threads=threads
    )
    summary = FitSummary(
        docs=[str(p) for p in paths], n_docs=len(kept), max_tokens=max_tokens,
        l2=l2, epochs=epochs, learn_rate=FIT_LEARN_RATE,
        n_words_seen=int(len(numpy.unique(cols))),
        cosine_before=round(report["cosine_before"], 6),
        cosine_after=round(report["cosine_after"], 6),
        scale=round(report["scale"], 6), encode_seconds=round(encode_seconds, 3),
        seconds=round(time.perf_counter() - started, 3),
    )  # fmt: skip
    return V, summary


def _check_fit_settings(l2: float, epochs: int, max_tokens: int) -> None:
    if not l2 >= 0:  # NaN too
        raise DataError(None, f"--fit-l2 must be >= 0, got {l2}")
    if epochs < 0:
        raise DataError(None, f"--fit-epochs must be >= 0, got {epochs}")
    if max_tokens < 1:
        raise DataError(None, f"--fit-tokens must be >= 1, got {max_tokens}")


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
