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

import json
import math
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Union

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc

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


class LabelThresholds(Pipe):
    """Applies per-label thresholds to ``doc.cats`` (see the module docstring)."""

    def __init__(self, nlp: Language, name: str = FACTORY) -> None:
        self.name = name
        self.thresholds: Dict[str, float] = {}

    def set_thresholds(self, thresholds: Mapping[str, float]) -> None:
        self.thresholds = check_thresholds(thresholds)

    def __call__(self, doc: Doc) -> Doc:
        for label, threshold in self.thresholds.items():
            if label in doc.cats:
                doc.cats[label] = rescale(float(doc.cats[label]), threshold)
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        for doc in stream:
            yield self(doc)

    def initialize(
        self,
        get_examples: Callable,
        *,
        nlp: Optional[Language] = None,
        thresholds: Optional[Mapping[str, float]] = None,
    ) -> None:
        if thresholds is not None:
            self.set_thresholds(thresholds)

    # stdlib json: srsly's ujson rounds floats to 10 digits, which would move a
    # threshold off the score it was tuned to sit between
    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        data = {"thresholds": self.thresholds}
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def from_bytes(
        self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()
    ) -> "LabelThresholds":
        self.set_thresholds(json.loads(bytes_data.decode("utf-8"))["thresholds"])
        return self

    def to_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / FILE).write_bytes(self.to_bytes())

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> "LabelThresholds":
        return self.from_bytes((Path(path) / FILE).read_bytes())


@Language.factory(FACTORY, assigns=["doc.cats"], requires=["doc.cats"])
def make_label_thresholds(nlp: Language, name: str) -> LabelThresholds:
    """Per-label decision thresholds for the multi-label classifier before it."""
    return LabelThresholds(nlp, name)


def threshold_components(nlp: Language) -> List[str]:
    """The names of the pipeline's enabled ``kd_label_thresholds`` components."""
    return [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory == FACTORY]


def saved_thresholds(nlp: Language) -> Optional[Dict[str, float]]:
    """The thresholds a pipeline ships (its ``kd_label_thresholds``), or None."""
    for name in nlp.component_names:
        if nlp.get_pipe_meta(name).factory == FACTORY:
            return dict(nlp.get_pipe(name).thresholds)
    return None


def set_pipeline_thresholds(
    nlp: Language, thresholds: Mapping[str, float], *, after: str
) -> LabelThresholds:
    """Add (or update) the pipeline's ``kd_label_thresholds`` after ``after``."""
    for name in nlp.component_names:
        if nlp.get_pipe_meta(name).factory == FACTORY:
            pipe = nlp.get_pipe(name)
            break
    else:
        pipe = nlp.add_pipe(FACTORY, name="label_thresholds", after=after)
    pipe.set_thresholds(thresholds)
    return pipe
