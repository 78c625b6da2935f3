"""The record a pseudo-labelled doc carries: written by ``annotate``, read by students.

A pseudo-labelled doc has ``doc.cats`` set to the teachers' combined probabilities
over the full label set (or 0/1 with ``--hard``) and a record in
``doc.user_data["spacy_kd"]``::

    {
        "source": "teacher",
        "teachers": ["elmo", "bert"],      # names, in the order of "weights"
        "weights": [0.5, 0.5],             # combination weights (normalised on read)
        "multi_label": False,
        "hard": False,
        "labels": ["neg", "pos"],          # the order of the lists below
        "probs": {"elmo": [0.2, 0.8], "bert": [0.4, 0.6]},
        "logits": {"elmo": [-0.7, 0.7], "bert": [...]},   # optional
    }

``logits`` are recorded only when a caller has a teacher's own logits; ``annotate``
records none, as logits worked back from the probabilities would restate them.

A gold doc has no such record (or ``"source": "gold"``). Every value is a plain
str / float / bool / list / dict, so the record survives
``DocBin(store_user_data=True)`` (which gives lists back as tuples; the readers here
accept either).
The student re-softens each teacher's output with a temperature and re-combines
them by weight (``teacher_targets``).
"""

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy
from spacy.tokens import Doc

from spacy_kd.util import SUM_TOLERANCE, sigmoid

RECORD_KEY = "spacy_kd"
WEIGHT_KEY = "spacy_kd_weight"
SOURCE_TEACHER = "teacher"
SOURCE_GOLD = "gold"


class AnnotationError(ValueError):
    """A pseudo-labelled doc whose record or cats are inconsistent."""


def mark_pseudo(
    doc: Doc,
    *,
    labels: Sequence[str],
    probs: Mapping[str, Sequence[float]],
    weights: Optional[Mapping[str, float]] = None,
    logits: Optional[Mapping[str, Sequence[float]]] = None,
    multi_label: bool,
    hard: bool = False,
    threshold: float = 0.5,
) -> Doc:
    """Record the teachers' outputs on ``doc``; set ``doc.cats`` to their combination.

    labels: the label order of every list in ``probs`` / ``logits``.
    probs: per-teacher probabilities (teacher name -> one value per label).
    weights: per-teacher combination weights (default: equal); normalised to sum 1.
    hard: write 0/1 cats (argmax for exclusive, ``>= threshold`` for multi-label)
        instead of the combined probabilities; the per-teacher outputs are kept.
    Returns the doc, for chaining.
    """
    labels = [str(label) for label in labels]
    teachers = list(probs)
    if not teachers:
        raise AnnotationError(
            "mark_pseudo needs the probabilities of at least one teacher"
        )
    if weights is None:
        weights = {name: 1.0 for name in teachers}
    if set(weights) != set(teachers):
        raise AnnotationError(
            f"weights are given for {sorted(weights)} but probabilities for "
            f"{sorted(teachers)}"
        )
    w = _normalise_weights([float(weights[name]) for name in teachers])
    record: Dict[str, Any] = {
        "source": SOURCE_TEACHER,
        "teachers": teachers,
        "weights": w,
        "multi_label": bool(multi_label),
        "hard": bool(hard),
        "labels": labels,
        "probs": {name: [float(x) for x in probs[name]] for name in teachers},
    }
    if logits is not None:
        if set(logits) != set(teachers):
            raise AnnotationError(
                f"logits are given for {sorted(logits)} but probabilities for "
                f"{sorted(teachers)}"
            )
        record["logits"] = {name: [float(x) for x in logits[name]] for name in teachers}
    _check_record(record)
    combined = sum(
        wj * numpy.asarray(record["probs"][name], dtype="float64")
        for name, wj in zip(teachers, w)
    )
    if hard:
        combined = hard_labels(combined, multi_label=multi_label, threshold=threshold)
    doc.cats = {label: float(p) for label, p in zip(labels, combined)}
    doc.user_data[RECORD_KEY] = record
    return doc


def select_teachers(
    doc: Doc,
    teachers: Optional[Sequence[str]] = None,
    *,
    hard: bool = False,
    threshold: float = 0.5,
) -> Doc:
    """Re-mark a pseudo-labelled doc as if only ``teachers`` had annotated it.

    The record keeps every teacher's own output, so one ``annotate`` run with
    several teachers serves students of each teacher alone and of the ensemble:
    the result equals what ``annotate`` writes for those teachers (with ``--hard``
    when ``hard``). teachers: names in the record (None: all of them). Their
    recorded weights are kept and renormalised (equal weights if those are all 0).
    """
    record = pseudo_record(doc)
    if record is None:
        raise AnnotationError(
            "select_teachers needs a pseudo-labelled doc, got a gold one"
        )
    available = list(record.get("teachers") or [])
    if "probs" not in record or not available:
        raise AnnotationError("the teacher record holds no per-teacher probabilities")
    names = available if teachers is None else [str(t) for t in teachers]
    unknown = [n for n in names if n not in available]
    if unknown or not names:
        raise AnnotationError(
            f"teachers {unknown or names} are not in the record; it has {available}"
        )
    recorded = dict(zip(available, _normalise_weights(record["weights"])))
    weights = {n: recorded[n] for n in names}
    if sum(weights.values()) <= 0.0:
        weights = {n: 1.0 for n in names}
    logits = record.get("logits")
    return mark_pseudo(
        doc,
        labels=list(record["labels"]),
        probs={n: list(record["probs"][n]) for n in names},
        weights=weights,
        logits={n: list(logits[n]) for n in names} if logits else None,
        multi_label=bool(record["multi_label"]),
        hard=hard,
        threshold=threshold,
    )


def pseudo_record(doc: Doc) -> Optional[Dict[str, Any]]:
    """The teacher record of a pseudo-labelled doc, or None for a gold doc."""
    record = doc.user_data.get(RECORD_KEY)
    if record is None or record.get("source", SOURCE_GOLD) == SOURCE_GOLD:
        return None
    return record


def is_pseudo(doc: Doc) -> bool:
    """Whether ``doc`` was labelled by a teacher rather than by a person."""
    return pseudo_record(doc) is not None


def set_example_weight(doc: Doc, weight: float) -> None:
    """Weight the loss of the example whose reference is ``doc`` (default 1)."""
    if not (weight >= 0.0 and math.isfinite(weight)):
        raise AnnotationError(
            f"an example weight must be finite and >= 0, got {weight}"
        )
    doc.user_data[WEIGHT_KEY] = float(weight)


def example_weight(doc: Doc) -> float:
    return float(doc.user_data.get(WEIGHT_KEY, 1.0))


def combined_probs(
    record: Mapping[str, Any], temperature: float = 1.0
) -> numpy.ndarray:
    """The teachers' probabilities softened at ``temperature`` and combined by weight.

    Each teacher is softened on its own, then the results are averaged with the
    record's weights: ``sum_j w_j soften(teacher_j, T)``. Softening uses the
    teacher's logits when recorded (``softmax(z / T)``, or ``sigmoid(z / T)`` for
    multi-label); otherwise its probabilities, ``p^(1/T)`` renormalised (exclusive)
    or ``sigmoid(logit(p) / T)`` (multi-label), which is the same thing when the
    probabilities came from those logits. Returned in the record's label order.
    """
    if not temperature > 0.0:
        raise AnnotationError(f"the temperature must be > 0, got {temperature}")
    multi_label = bool(record["multi_label"])
    weights = _normalise_weights(record["weights"])
    logits = record.get("logits") or {}
    total = numpy.zeros(len(record["labels"]), dtype="float64")
    for name, w in zip(record["teachers"], weights):
        if name in logits:
            z = numpy.asarray(logits[name], dtype="float64") / temperature
            total += w * (sigmoid(z) if multi_label else _softmax(z))
        else:
            p = numpy.asarray(record["probs"][name], dtype="float64")
            total += w * soften_probs(p, temperature, multi_label=multi_label)
    return total


def teacher_targets(
    doc: Doc, labels: Sequence[str], temperature: float = 1.0
) -> numpy.ndarray:
    """The distillation targets of a pseudo-labelled doc, in the order of ``labels``.

    With ``temperature == 1`` and no logits recorded these are the combined teacher
    probabilities (``doc.cats`` of a soft run). A ``hard`` record gives its 0/1
    ``doc.cats`` whatever the temperature (one-hot targets do not soften). A
    pseudo doc without per-teacher outputs is taken as one teacher whose
    probabilities are ``doc.cats``.
    """
    record = pseudo_record(doc)
    if record is None:
        raise AnnotationError(
            "teacher_targets needs a pseudo-labelled doc, got a gold one"
        )
    if record.get("hard") or "probs" not in record:
        missing = [label for label in labels if label not in doc.cats]
        if missing:
            raise AnnotationError(f"the pseudo-labelled doc has no value for {missing}")
        probs = numpy.array([doc.cats[label] for label in labels], dtype="float64")
        if record.get("hard"):
            return probs
        return soften_probs(probs, temperature, multi_label=bool(record["multi_label"]))
    order = _label_order(record["labels"], labels)
    return combined_probs(record, temperature)[order]


def soften_probs(
    p: numpy.ndarray, temperature: float, *, multi_label: bool
) -> numpy.ndarray:
    """Soften probabilities: ``p^(1/T)`` renormalised, or per label a sigmoid.

    For multi-label, ``sigmoid(logit(p) / T) = p^(1/T) / (p^(1/T) + (1-p)^(1/T))``,
    computed in that form so that p = 0 or 1 stays finite.
    """
    p = numpy.clip(numpy.asarray(p, dtype="float64"), 0.0, 1.0)
    if temperature == 1.0:
        return p / p.sum() if not multi_label else p
    a = p ** (1.0 / temperature)
    if multi_label:
        return a / (a + (1.0 - p) ** (1.0 / temperature))
    return a / a.sum()


def hard_labels(
    probs: Sequence[float], *, multi_label: bool, threshold: float = 0.5
) -> numpy.ndarray:
    """0/1 labels: the argmax (exclusive) or ``p >= threshold`` (multi-label)."""
    probs = numpy.asarray(probs, dtype="float64")
    out = numpy.zeros_like(probs)
    if multi_label:
        out[probs >= threshold] = 1.0
    else:
        out[int(probs.argmax())] = 1.0
    return out


def check_pseudo_doc(
    doc: Doc, labels: Sequence[str], multi_label: bool
) -> Optional[str]:
    """Why a pseudo-labelled doc is unusable for a student with ``labels``, or None.

    Checks that the label sets agree (cats and record), that probabilities are in
    [0, 1], that exclusive rows sum to 1, that the record's kind (exclusive or
    multi-label) is the student's, and the record's own shape.
    """
    record = pseudo_record(doc)
    if record is None:
        return "not a pseudo-labelled doc"
    want = set(labels)
    if set(doc.cats) != want:
        return _label_mismatch("its cats", doc.cats, want)
    values = list(doc.cats.values())
    bad = [v for v in values if not (0.0 <= v <= 1.0)]
    if bad:
        return f"cats outside [0, 1]: {bad[:3]}"
    if "multi_label" in record and bool(record["multi_label"]) != bool(multi_label):
        kind = "multi-label" if record["multi_label"] else "exclusive"
        want_kind = "multi-label" if multi_label else "exclusive"
        return f"it was annotated as {kind} but the student is {want_kind}"
    if not multi_label and abs(sum(values) - 1.0) > SUM_TOLERANCE:
        return f"exclusive cats must sum to 1, they sum to {sum(values):.6g}"
    if "probs" in record or "teachers" in record:
        try:
            _check_record(record)
        except AnnotationError as e:
            return str(e)
        if set(record["labels"]) != want:
            return _label_mismatch("its teacher record", record["labels"], want)
    return None


def _check_record(record: Mapping[str, Any]) -> None:
    """Raise AnnotationError if a teacher record is malformed."""
    for key in ("teachers", "weights", "labels", "probs", "multi_label"):
        if key not in record:
            raise AnnotationError(f"the teacher record has no '{key}'")
    teachers, labels = record["teachers"], record["labels"]
    if len(set(labels)) != len(labels):
        raise AnnotationError("the teacher record's labels hold duplicates")
    if len(record["weights"]) != len(teachers):
        raise AnnotationError(
            f"the teacher record has {len(record['weights'])} weights for "
            f"{len(teachers)} teachers"
        )
    _normalise_weights(record["weights"])
    multi_label = bool(record["multi_label"])
    for field in ("probs", "logits"):
        values = record.get(field)
        if values is None:
            continue
        if set(values) != set(teachers):
            raise AnnotationError(
                f"the teacher record's {field} are for {sorted(values)}, "
                f"its teachers are {sorted(teachers)}"
            )
        for name in teachers:
            row = values[name]
            if len(row) != len(labels):
                raise AnnotationError(
                    f"teacher '{name}' has {len(row)} {field} for {len(labels)} labels"
                )
            if not all(math.isfinite(x) for x in row):
                raise AnnotationError(f"teacher '{name}' has non-finite {field}")
            if field == "probs":
                if not all(0.0 <= x <= 1.0 for x in row):
                    raise AnnotationError(
                        f"teacher '{name}' has probabilities outside [0, 1]"
                    )
                if not multi_label and abs(sum(row) - 1.0) > SUM_TOLERANCE:
                    raise AnnotationError(
                        f"teacher '{name}' has exclusive probabilities summing to "
                        f"{sum(row):.6g}, not 1"
                    )


def _normalise_weights(weights: Sequence[float]) -> List[float]:
    w = [float(x) for x in weights]
    if not w or any(not (x >= 0.0 and math.isfinite(x)) for x in w) or sum(w) <= 0.0:
        raise AnnotationError(
            f"teacher weights must be >= 0 with a positive sum, got {w}"
        )
    total = sum(w)
    return [x / total for x in w]


def _label_order(have: Sequence[str], want: Sequence[str]) -> numpy.ndarray:
    index = {label: i for i, label in enumerate(have)}
    if set(index) != set(want) or len(have) != len(want):
        raise AnnotationError(_label_mismatch("the teacher record", have, set(want)))
    return numpy.array([index[label] for label in want], dtype="int64")


def _label_mismatch(what: str, have, want: set) -> str:
    have = set(have)
    parts = []
    if want - have:
        parts.append(f"missing {sorted(want - have)[:5]}")
    if have - want:
        parts.append(f"unknown {sorted(have - want)[:5]}")
    return f"{what} label set differs from the gold labels ({', '.join(parts)})"


def _softmax(z: numpy.ndarray) -> numpy.ndarray:
    e = numpy.exp(z - z.max())
    return e / e.sum()
