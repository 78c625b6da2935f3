"""Accuracy of text-classifier scores: P/R/F, exact match, agreement, tuned thresholds.

Counting follows spaCy's ``Scorer.score_cats`` so the numbers are comparable with
``spacy evaluate``:

* exclusive labels: the predicted label is the highest-scoring one and the gold label
  the highest gold value (the first one on ties, in ``doc.cats`` order); a miss is a
  false negative for the gold label and a false positive for the predicted one.
* multi-label: a label is predicted when its score is ``>= threshold`` and is gold when
  its gold value is ``> 0``; a label missing from a gold ``doc.cats`` is unknown for
  that document and is not counted (nor in exact match).
* precision, recall and F are 0 where their denominator is 0; macro scores average the
  per-label scores over every label, including labels without gold examples.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

GoldCats = Sequence[Mapping[str, float]]


@dataclass
class LabelScore:
    """Precision, recall, F and the counts behind them for one label."""

    p: float
    r: float
    f: float
    support: int
    tp: int
    fp: int
    fn: int

    def to_dict(self) -> Dict[str, float]:
        return dict(self.__dict__)


@dataclass
class AccuracyScores:
    """Micro and macro P/R/F, exact-match accuracy and per-label scores."""

    micro_p: float
    micro_r: float
    micro_f: float
    macro_p: float
    macro_r: float
    macro_f: float
    exact_match: float
    n_docs: int
    per_label: Dict[str, LabelScore] = field(default_factory=dict)

    def to_dict(self) -> Dict:
        data = {k: v for k, v in self.__dict__.items() if k != "per_label"}
        data["per_label"] = {k: v.to_dict() for k, v in self.per_label.items()}
        return data


@dataclass
class Agreement:
    """How closely a pipeline's decisions follow a reference pipeline's.

    exact: share of documents whose predicted label set equals the reference's.
    micro_f / macro_f: F of the pipeline's decisions, taking the reference's as gold.
    mean_abs_diff: mean absolute difference of the scores over documents and labels.
    """

    reference: str
    exact: float
    micro_f: float
    macro_f: float
    mean_abs_diff: float

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else 0.0


def prf(tp: int, fp: int, fn: int) -> tuple:
    """Precision, recall and F1 from counts (0 where undefined, as in spaCy)."""
    p = _ratio(tp, tp + fp)
    r = _ratio(tp, tp + fn)
    f = _ratio(2 * p * r, p + r)
    return p, r, f


def gold_argmax(cats: Mapping[str, float], labels: Sequence[str]) -> int:
    """Index in ``labels`` of a document's exclusive gold label (first on ties)."""
    known = {label: i for i, label in enumerate(labels)}
    best_label, best = None, -np.inf
    for label, value in cats.items():
        if label in known and value > best:
            best_label, best = label, value
    if best_label is None:
        raise ValueError("the gold cats hold none of the labels")
    return known[best_label]


def gold_matrix(gold: GoldCats, labels: Sequence[str]) -> np.ndarray:
    """Gold values as a float64 (n_docs, n_labels) matrix, NaN for a missing label."""
    out = np.full((len(gold), len(labels)), np.nan, dtype="float64")
    for i, cats in enumerate(gold):
        for j, label in enumerate(labels):
            if label in cats:
                out[i, j] = float(cats[label])
    return out


def decisions(
    scores: np.ndarray, multi_label: bool, thresholds: Optional[np.ndarray] = None
) -> np.ndarray:
    """The labels a classifier predicts, as a boolean (n_docs, n_labels) matrix.

    Exclusive: the highest score (the first on ties). Multi-label: every label whose
    score is ``>= thresholds[j]`` (0.5 when not given).
    """
    scores = np.asarray(scores, dtype="float64")
    if multi_label:
        if thresholds is None:
            thresholds = np.full(scores.shape[1], 0.5)
        return scores >= np.asarray(thresholds, dtype="float64")[None, :]
    out = np.zeros(scores.shape, dtype=bool)
    if scores.shape[0]:
        out[np.arange(scores.shape[0]), scores.argmax(axis=1)] = True
    return out


def _scores_from_counts(
    labels: Sequence[str],
    tp: np.ndarray,
    fp: np.ndarray,
    fn: np.ndarray,
    support: np.ndarray,
    exact: float,
    n_docs: int,
) -> AccuracyScores:
    per_label = {}
    for j, label in enumerate(labels):
        p, r, f = prf(int(tp[j]), int(fp[j]), int(fn[j]))
        per_label[label] = LabelScore(
            p=p,
            r=r,
            f=f,
            support=int(support[j]),
            tp=int(tp[j]),
            fp=int(fp[j]),
            fn=int(fn[j]),
        )
    micro_p, micro_r, micro_f = prf(int(tp.sum()), int(fp.sum()), int(fn.sum()))
    n = len(labels)
    return AccuracyScores(
        micro_p=micro_p,
        micro_r=micro_r,
        micro_f=micro_f,
        macro_p=sum(s.p for s in per_label.values()) / n if n else 0.0,
        macro_r=sum(s.r for s in per_label.values()) / n if n else 0.0,
        macro_f=sum(s.f for s in per_label.values()) / n if n else 0.0,
        exact_match=exact,
        n_docs=n_docs,
        per_label=per_label,
    )


def score_cats(
    gold: GoldCats,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    multi_label: bool,
    thresholds: Optional[Sequence[float]] = None,
) -> AccuracyScores:
    """Score ``scores`` (n_docs, n_labels, in ``labels`` order) against gold cats.

    thresholds: per-label cut-offs for multi-label (default 0.5 each); ignored for
    exclusive labels, where the highest score wins.
    """
    scores = np.asarray(scores, dtype="float64")
    n_docs, n_labels = len(gold), len(labels)
    if scores.shape != (n_docs, n_labels):
        raise ValueError(
            f"scores have shape {scores.shape}, expected {(n_docs, n_labels)}"
        )
    if n_docs == 0:
        raise ValueError("cannot score an empty set of documents")
    pred = decisions(
        scores, multi_label, None if thresholds is None else np.asarray(thresholds)
    )
    if multi_label:
        values = gold_matrix(gold, labels)
        known = ~np.isnan(values)
        is_gold = known & (np.nan_to_num(values) > 0)
        tp = (pred & is_gold).sum(axis=0)
        fp = (pred & ~is_gold & known).sum(axis=0)
        fn = (~pred & is_gold).sum(axis=0)
        support = is_gold.sum(axis=0)
        exact = float(np.mean(np.all((pred == is_gold) | ~known, axis=1)))
    else:
        gold_idx = np.array([gold_argmax(cats, labels) for cats in gold], dtype=int)
        pred_idx = pred.argmax(axis=1)
        hit = gold_idx == pred_idx
        tp = np.bincount(gold_idx[hit], minlength=n_labels)
        fn = np.bincount(gold_idx[~hit], minlength=n_labels)
        fp = np.bincount(pred_idx[~hit], minlength=n_labels)
        support = np.bincount(gold_idx, minlength=n_labels)
        exact = float(hit.mean())
    return _scores_from_counts(labels, tp, fp, fn, support, exact, n_docs)


def compare_decisions(
    decided: np.ndarray, reference_decided: np.ndarray
) -> Tuple[float, float, float]:
    """Exact match, micro-F and macro-F of boolean decisions against reference ones.

    Both matrices are (n_docs, n_labels); the reference decisions count as gold.
    exact: the share of documents whose label set equals the reference's.
    """
    decided = np.asarray(decided, dtype=bool)
    reference_decided = np.asarray(reference_decided, dtype=bool)
    if decided.shape != reference_decided.shape:
        raise ValueError("compare_decisions needs matrices of the same shape")
    tp = (decided & reference_decided).sum(axis=0)
    fp = (decided & ~reference_decided).sum(axis=0)
    fn = (~decided & reference_decided).sum(axis=0)
    _, _, micro_f = prf(int(tp.sum()), int(fp.sum()), int(fn.sum()))
    per_label_f = [prf(int(a), int(b), int(c))[2] for a, b, c in zip(tp, fp, fn)]
    exact = float(np.mean(np.all(decided == reference_decided, axis=1)))
    return exact, micro_f, float(np.mean(per_label_f)) if per_label_f else 0.0


def agreement(
    decided: np.ndarray,
    reference_decided: np.ndarray,
    scores: np.ndarray,
    reference_scores: np.ndarray,
    *,
    reference: str,
) -> Agreement:
    """Agreement of one pipeline's decisions and scores with a reference pipeline's.

    All four matrices are (n_docs, n_labels) over the same labels in the same order.
    """
    if np.shape(decided) != np.shape(scores):
        raise ValueError("agreement needs matrices of the same shape")
    exact, micro_f, macro_f = compare_decisions(decided, reference_decided)
    diff = np.abs(
        np.asarray(scores, dtype="float64")
        - np.asarray(reference_scores, dtype="float64")
    )
    return Agreement(
        reference=reference,
        exact=exact,
        micro_f=micro_f,
        macro_f=macro_f,
        mean_abs_diff=float(diff.mean()) if diff.size else 0.0,
    )


def tune_thresholds(
    gold: GoldCats,
    scores: np.ndarray,
    labels: Sequence[str],
    *,
    default: float = 0.5,
) -> List[float]:
    """Per-label thresholds that maximise each label's F1 on a dev set (multi-label).

    The candidates are the default, the lowest score of the label and the midpoints
    between its consecutive distinct scores; on ties the one closest to ``default``
    wins. A label with no gold positives on the dev set keeps ``default``.
    """
    scores = np.asarray(scores, dtype="float64")
    values = gold_matrix(gold, labels)
    out: List[float] = []
    for j in range(len(labels)):
        known = ~np.isnan(values[:, j])
        s = scores[known, j]
        y = values[known, j] > 0
        n_pos = int(y.sum())
        if n_pos == 0:
            out.append(float(default))
            continue
        distinct = np.unique(s)
        candidates = np.concatenate(
            [[default, distinct[0]], (distinct[:-1] + distinct[1:]) / 2.0]
        )
        pos = np.sort(s[y])
        neg = np.sort(s[~y])
        tp = n_pos - np.searchsorted(pos, candidates, side="left")
        fp = len(neg) - np.searchsorted(neg, candidates, side="left")
        fn = n_pos - tp
        f = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = f.max()
        tied = candidates[np.isclose(f, best, rtol=0, atol=1e-12)]
        out.append(float(tied[np.argmin(np.abs(tied - default))]))
    return out
