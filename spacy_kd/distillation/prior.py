"""``kd_label_prior``: an exclusive classifier's label-prior correction, shipped in
the pipeline.

A student learns the teacher's pseudo-labels, and with them the teacher's bias in
how often it gives each label: on 20 Newsgroups the BERT teacher gives
``talk.religion.misc`` to half as many pool docs as hold it, and its students
under-predict that label further. The correction (Saerens, Latinne and Decaestecker
2002, "Adjusting the outputs of a classifier to new a priori probabilities") moves
the classifier's posteriors to another label prior: each label's probability is
multiplied by a weight and the row renormalised,

    p'(label | doc) = w[label] * p(label | doc) / sum_k w[k] * p(k | doc)

with the weights fitted on unlabelled text so that the mean corrected distribution
equals the target prior (the gold labels' share of each label). The output is still
a probability distribution; argmax decisions move towards the under-predicted labels.
This component, placed after the classifier, keeps the weights with the pipeline and
applies them when it runs, so ``spacy.load`` and ``spacy evaluate`` use them. For
the classifier's own probabilities, run the pipeline with it disabled. Multi-label
classifiers have per-label thresholds instead (``kd_label_thresholds``).
"""

import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from .cats_pipe import CatsPostprocessor, get_or_add

FACTORY = "kd_label_prior"
FILE = "prior.json"


def check_weights(weights: Mapping[str, float]) -> Dict[str, float]:
    """Weights as a plain dict of finite floats > 0; anything else is an error."""
    checked: Dict[str, float] = {}
    for label, value in weights.items():
        if not isinstance(label, str) or not label:
            raise ValueError(
                f"prior weights: a label must be a non-empty string: {label!r}"
            )
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)) or not float(value) > 0.0:
            raise ValueError(
                f"prior weights[{label!r}] = {value!r}: expected a number > 0"
            )
        checked[label] = float(value)
    return checked


def fit_prior_weights(
    probs: numpy.ndarray,
    prior: Sequence[float],
    *,
    max_iter: int = 1000,
    tol: float = 1e-6,
) -> numpy.ndarray:
    """Per-label weights ``w`` that make the mean of the corrected rows of ``probs``
    (n_docs x n_labels, each row a distribution) equal ``prior``: the fixed point of
    ``w <- w * prior / mean(corrected)`` (Saerens et al.'s EM with the posteriors'
    own prior as the start). Labels with prior 0 get a tiny weight, not 0. Scaled
    so that the weights' geometric mean is 1."""
    P = numpy.asarray(probs, dtype="float64")
    target = numpy.asarray(prior, dtype="float64")
    if P.ndim != 2 or P.shape[0] == 0 or P.shape[1] != len(target):
        raise ValueError(
            f"probs must be (n_docs, {len(target)}) with n_docs > 0, got {P.shape}"
        )
    if (target < 0).any() or not math.isclose(float(target.sum()), 1.0, abs_tol=1e-6):
        raise ValueError("the target prior must be >= 0 and sum to 1")
    P = numpy.clip(P, 1e-12, None)
    P /= P.sum(axis=1, keepdims=True)
    target = numpy.clip(target, 1e-9, None)
    w = numpy.ones(P.shape[1])
    for _ in range(max_iter):
        Q = P * w
        Q /= Q.sum(axis=1, keepdims=True)
        mean = Q.mean(axis=0)
        if numpy.abs(mean - target).max() < tol:
            break
        w *= target / mean
        w /= numpy.exp(numpy.log(w).mean())
    return w


def apply_prior_weights(
    probs: numpy.ndarray, weights: Sequence[float]
) -> numpy.ndarray:
    """Rows of ``probs`` multiplied by ``weights`` and renormalised."""
    Q = numpy.asarray(probs, dtype="float64") * numpy.asarray(weights, dtype="float64")
    total = Q.sum(axis=1, keepdims=True)
    return numpy.divide(Q, total, out=numpy.zeros_like(Q), where=total > 0)


class LabelPrior(CatsPostprocessor):
    """Applies per-label prior weights to ``doc.cats`` (see the module docstring)."""

    file_name = FILE

    def __init__(self, nlp: Language, name: str = FACTORY) -> None:
        super().__init__(nlp, name)
        self.weights: Dict[str, float] = {}
        self.target: Dict[str, float] = {}  # the prior the weights were fitted to

    def set_weights(
        self, weights: Mapping[str, float], target: Optional[Mapping[str, float]] = None
    ) -> None:
        self.weights = check_weights(weights)
        self.target = {str(k): float(v) for k, v in (target or {}).items()}

    def get_state(self) -> Dict[str, Any]:
        return {"weights": self.weights, "target": self.target}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.set_weights(state["weights"], state.get("target"))

    def __call__(self, doc: Doc) -> Doc:
        if not self.weights:
            return doc
        labels = [label for label in doc.cats if label in self.weights]
        if not labels:
            return doc
        scaled = [self.weights[label] * float(doc.cats[label]) for label in labels]
        total = sum(scaled)
        if total > 0.0:
            for label, value in zip(labels, scaled):
                doc.cats[label] = value / total
        return doc

    def initialize(
        self,
        get_examples: Callable,
        *,
        nlp: Optional[Language] = None,
        weights: Optional[Mapping[str, float]] = None,
    ) -> None:
        if weights is not None:
            self.set_weights(weights)


@Language.factory(FACTORY, assigns=["doc.cats"], requires=["doc.cats"])
def make_label_prior(nlp: Language, name: str) -> LabelPrior:
    """Label-prior weights for the exclusive classifier before it."""
    return LabelPrior(nlp, name)


def set_pipeline_prior(
    nlp: Language,
    weights: Mapping[str, float],
    *,
    after: Optional[str],
    target: Optional[Mapping[str, float]] = None,
) -> LabelPrior:
    """Add (or update) the pipeline's ``kd_label_prior`` after ``after``."""
    pipe = get_or_add(nlp, FACTORY, name="label_prior", after=after)
    pipe.set_weights(weights, target)
    return pipe
