"""``kd_label_thresholds``: a multi-label classifier's per-label decision thresholds,
shipped in the pipeline.

spaCy's ``textcat_multilabel`` has one ``threshold`` for every label, and uses it
only when scoring. Tuned per label on dev, the thresholds of a multi-label student
are worth several points of macro-F1 on rare labels; this component, placed after
the classifier, keeps them with the pipeline and applies them when it runs: each
label's score ``s`` with threshold ``t`` is mapped monotonically (piecewise linearly)
so that ``s >= t`` becomes ``doc.cats[label] >= 0.5``:

    s <  t:  0.5 * s / t
    s >= t:  0.5 + 0.5 * (s - t) / (1 - t)

So every consumer that cuts at 0.5, spaCy's own scorer (``spacy evaluate``) among
them, decides with the tuned thresholds, and the order of the docs by a label's
score is unchanged. The values are decision scores, no longer probabilities: for
the classifier's own probabilities, run the pipeline with this component disabled.
"""

import math
from typing import Any, Callable, Dict, List, Mapping, Optional

from spacy.language import Language
from spacy.tokens import Doc

from .cats_pipe import (
    CatsPostprocessor,
    enabled_components,
    first_component,
    get_or_add,
)

FACTORY = "kd_label_thresholds"
FILE = "thresholds.json"
BELOW_HALF = math.nextafter(0.5, 0.0)


def rescale(score: float, threshold: float) -> float:
    """``score`` mapped so that ``score >= threshold`` iff the result is >= 0.5."""
    if score >= threshold:
        if threshold >= 1.0:
            return 1.0
        return min(1.0, 0.5 + 0.5 * (score - threshold) / (1.0 - threshold))
    # score < threshold, so threshold > 0
    return max(0.0, min(BELOW_HALF, 0.5 * score / threshold))


def check_thresholds(thresholds: Mapping[str, float]) -> Dict[str, float]:
    """Thresholds as a plain dict of floats in [0, 1]; anything else is an error."""
    checked: Dict[str, float] = {}
    for label, value in thresholds.items():
        if not isinstance(label, str) or not label:
            raise ValueError(
                f"thresholds: a label must be a non-empty string: {label!r}"
            )
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not 0.0 <= float(value) <= 1.0 or math.isnan(float(value)):
            raise ValueError(f"thresholds[{label!r}] = {value!r}: expected 0 to 1")
        checked[label] = float(value)
    return checked


class LabelThresholds(CatsPostprocessor):
    """Applies per-label thresholds to ``doc.cats`` (see the module docstring)."""

    file_name = FILE

    def __init__(self, nlp: Language, name: str = FACTORY) -> None:
        super().__init__(nlp, name)
        self.thresholds: Dict[str, float] = {}

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = check_thresholds(thresholds)

    def get_state(self) -> Dict[str, Any]:
        return {"thresholds": self.thresholds}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.set_thresholds(state["thresholds"])

    def __call__(self, doc: Doc) -> Doc:
        for label, threshold in self.thresholds.items():
            if label in doc.cats:
                doc.cats[label] = rescale(float(doc.cats[label]), threshold)
        return doc

    def initialize(
        self,
        get_examples: Callable,
        *,
        nlp: Optional[Language] = None,
        thresholds: Optional[Mapping[str, float]] = None,
    ) -> None:
        if thresholds is not None:
            self.set_thresholds(thresholds)


@Language.factory(FACTORY, assigns=["doc.cats"], requires=["doc.cats"])
def make_label_thresholds(nlp: Language, name: str) -> LabelThresholds:
    """Per-label decision thresholds for the multi-label classifier before it."""
    return LabelThresholds(nlp, name)


def threshold_components(nlp: Language) -> List[str]:
    """The names of the pipeline's enabled ``kd_label_thresholds`` components."""
    return enabled_components(nlp, FACTORY)


def saved_thresholds(nlp: Language) -> Optional[Dict[str, float]]:
    """The thresholds a pipeline ships (its ``kd_label_thresholds``), or None."""
    pipe = first_component(nlp, FACTORY)
    return None if pipe is None else dict(pipe.thresholds)


def set_pipeline_thresholds(
    nlp: Language, thresholds: Mapping[str, float], *, after: str
) -> LabelThresholds:
    """Add (or update) the pipeline's ``kd_label_thresholds`` after ``after``."""
    pipe = get_or_add(nlp, FACTORY, name="label_thresholds", after=after)
    pipe.set_thresholds(thresholds)
    return pipe
