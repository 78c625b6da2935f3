"""Static vectors fitted to the teacher's doc features (``distill-vectors --fit-docs``).

model2vec's vectors see each word alone, out of context, and a doc's mean of them is
far from what the encoder makes of the doc. ``fit_vectors`` then fits them so that
the mean vector of each fit doc's words comes close to the encoder's own feature of
that doc, the BERT teacher's feature (mean over its wordpieces, L2-normalised): the
idea of MinishLab's tokenlearn, done here as a least-squares fit. A ridge penalty
holds each word near its model2vec vector (scaled), so a word the fit docs never
show keeps that. The fitted vectors are not Zipf-weighted (the fit sets each word's
weight in the mean), and ``distill_vectors`` applies PCA after the fit only when
its ``dims`` is below the encoder's width. Measured in ``README.md``, "Vectors
fitted to the teacher's doc features".
"""

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy
from spacy.tokens import Doc

from spacy_kd.data.docbin import read_docbin
from spacy_kd.distillation.encoder import encode_docs, torch_threads
from spacy_kd.errors import DataError

DEFAULT_FIT_L2 = 0.3
DEFAULT_FIT_EPOCHS = 300
DEFAULT_FIT_TOKENS = 128  # a fit doc's first tokens: the encoder reads these only
FIT_LEARN_RATE = 0.01


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


def mean_matrix(
    docs: Sequence[Doc], words: Sequence[str], max_tokens: int
) -> Tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """The sparse (docs x words) matrix that averages the rows of a words table
    over each doc's first ``max_tokens`` tokens (by their lowercase form), as COO
    arrays (rows, cols, values), and the indices of the docs with at least one
    token in ``words`` (the rows). As in the student's mean
    (``spacy-kd.TfidfMeanVectors.v1``), a token outside ``words`` counts as a zero
    vector, and a word twice in a doc gets twice the weight."""
    index = {w: i for i, w in enumerate(words)}
    rows: List[int] = []
    cols: List[int] = []
    values: List[float] = []
    kept: List[int] = []
    for i, doc in enumerate(docs):
        tokens = doc[:max_tokens]
        found = [index[t.lower_] for t in tokens if t.lower_ in index]
        if not found:
            continue
        row = len(kept)
        kept.append(i)
        for j, n in sorted(Counter(found).items()):
            rows.append(row)
            cols.append(j)
            values.append(n / len(tokens))
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
    with torch_threads(threads):
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


def fit_vectors(
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
    loaded: Optional[Mapping[Path, List[Doc]]] = None,
) -> Tuple[numpy.ndarray, FitSummary]:
    """The words table ``X`` fitted to the encoder's features of the docs of
    ``paths`` (each doc's first ``max_tokens`` tokens).

    loaded: docs already read, by resolved path; a path found there is not read again.
    """
    started = time.perf_counter()
    fit_docs: List[Doc] = []
    for path in paths:
        known = loaded.get(path.resolve()) if loaded else None
        fit_docs.extend(known if known is not None else read_docbin(path, lang))
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


def check_fit_settings(l2: float, epochs: int, max_tokens: int) -> None:
    if not l2 >= 0:  # NaN too
        raise DataError(None, f"--fit-l2 must be >= 0, got {l2}")
    if epochs < 0:
        raise DataError(None, f"--fit-epochs must be >= 0, got {epochs}")
    if max_tokens < 1:
        raise DataError(None, f"--fit-tokens must be >= 1, got {max_tokens}")
