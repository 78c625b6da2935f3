"""Fitted on labelled dev data: each teacher's temperature (calibration) and the
teachers' weights (the mix with the least log-loss of calibrated probabilities).

The fit is stored in the run's dev_fit.json, and the teachers' own probabilities on
dev (before any temperature) in dev_scores.json, both with the key of what they
were computed from: a resume reads them back instead of running the teachers on
dev again, and so does the report (the ensemble's and the teachers' dev scores).
"""

import itertools
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy

from spacy_kd.annotate.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)
from spacy_kd.annotate.manifest import DEV_FIT, DEV_SCORES
from spacy_kd.annotate.teachers import Teacher, length_order, run_teacher
from spacy_kd.data.labelled import read_labelled
from spacy_kd.errors import DataError
from spacy_kd.util import EPS, content_sha256, write_json_atomic


@dataclass
class DevFit:
    """What annotate fits on dev: weights (summing to 1), and per teacher its
    temperature (a float, or one per label for multi-label; None: not calibrated)
    and its expected calibration error on dev before and after.

    labels, dev_scores: per teacher, its probabilities on the dev docs (in their
    order, in ``labels`` order, before any temperature); stored apart, in
    dev_scores.json.
    """

    weights: List[float]
    temperatures: Dict[str, Any] = field(default_factory=dict)
    ece_before: Dict[str, float] = field(default_factory=dict)
    ece_after: Dict[str, float] = field(default_factory=dict)
    labels: Optional[List[str]] = field(default=None, repr=False)
    dev_scores: Optional[Dict[str, List[List[float]]]] = field(default=None, repr=False)


def dev_fit_key(
    teachers: List[Teacher], dev_path: Union[str, Path], calibrate: bool
) -> Dict[str, Any]:
    """What a dev fit depends on: every teacher's files and the dev data's content
    (by SHA-256), and whether temperatures were fitted."""
    return {
        "teachers": [[t.name, content_sha256(t.path)] for t in teachers],
        "dev": [str(Path(dev_path).resolve()), content_sha256(dev_path)],
        "calibrate": calibrate,
    }


def stored_dev_fit(
    output_dir: Union[str, Path], key: Dict[str, Any]
) -> Optional[DevFit]:
    """The fit stored in an annotate output folder for this very ``key``, or None
    (none stored, unreadable, or fitted for other teachers, dev data or settings).
    Its dev scores come with it where they were stored for the same key."""
    path = Path(output_dir) / DEV_FIT
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") != key:
            return None
        fit = DevFit(**data["fit"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    stored = stored_dev_scores(output_dir)
    if stored is not None and stored[0] == key:
        fit.labels, fit.dev_scores = stored[1], stored[2]
    return fit


def store_dev_fit(
    output_dir: Union[str, Path], key: Dict[str, Any], fit: DevFit
) -> None:
    """Store ``fit`` (with its ``key``) in an annotate output folder: dev_fit.json,
    and dev_scores.json where the fit has its dev scores."""
    fitted = asdict(fit)
    labels, scores = fitted.pop("labels"), fitted.pop("dev_scores")
    if scores is not None:
        write_json_atomic(
            Path(output_dir) / DEV_SCORES,
            {"key": key, "labels": labels, "scores": scores},
        )
    write_json_atomic(Path(output_dir) / DEV_FIT, {"key": key, "fit": fitted})


def stored_dev_scores(
    output_dir: Union[str, Path],
) -> Optional[Tuple[Dict[str, Any], List[str], Dict[str, List[List[float]]]]]:
    """The teachers' probabilities on dev stored in an annotate output folder: the
    key they were computed for (see ``dev_fit_key``), their label order, and each
    teacher's rows; None where none (readable) are stored."""
    try:
        data = json.loads((Path(output_dir) / DEV_SCORES).read_text(encoding="utf-8"))
        key, labels, scores = data["key"], data["labels"], data["scores"]
        if not isinstance(key, dict) or not isinstance(scores, dict):
            return None
        return key, [str(x) for x in labels], scores
    except (OSError, ValueError, TypeError, KeyError):
        return None


def fit_on_dev(
    teachers: List[Teacher],
    dev_path: Union[str, Path],
    labels: List[str],
    *,
    calibrate: bool = True,
    batch_size: int = 64,
    steps: int = 20,
) -> DevFit:
    """Run every teacher over labelled dev data once; fit each one's temperature
    (``calibrate``) and then the weights on the (calibrated) probabilities.

    The weights minimise the mix's log-loss: a grid over the simplex with ``steps``
    divisions (2 or 3 teachers), else coordinate descent on the same grid.
    """
    dev_path = Path(dev_path)
    labelled = read_labelled(dev_path, "fitting teacher weights")
    if not labelled.texts:
        raise DataError(dev_path, "no labelled docs to fit teacher weights on")
    unknown = {k for cats in labelled.cats for k in cats} - set(labels)
    if unknown:
        raise DataError(
            dev_path, f"labels not known to the teachers: {sorted(unknown)}"
        )
    gold = numpy.asarray(
        [[cats.get(label, 0.0) for label in labels] for cats in labelled.cats]
    )
    multi = teachers[0].multi_label
    order = length_order(labelled.texts)  # shortest first: less padding
    probs = [
        run_teacher(t, labelled.texts, labels, batch_size, 1, order=order)[0]
        for t in teachers
    ]
    fit = DevFit(
        weights=[],
        labels=list(labels),
        dev_scores={t.name: p.tolist() for t, p in zip(teachers, probs)},
    )
    if calibrate:
        for i, (teacher, p) in enumerate(zip(teachers, probs)):
            temperature = fit_temperature(p, gold, multi)
            fit.ece_before[teacher.name] = _rounded(
                expected_calibration_error(p, gold, multi)
            )
            probs[i] = apply_temperature(p, temperature, multi)
            fit.ece_after[teacher.name] = _rounded(
                expected_calibration_error(probs[i], gold, multi)
            )
            fit.temperatures[teacher.name] = (
                [_rounded(t) for t in temperature.tolist()]
                if multi
                else _rounded(float(temperature))
            )
            # the probabilities at the temperature as stored (and so as reused)
            probs[i] = apply_temperature(
                p, numpy.asarray(fit.temperatures[teacher.name]), multi
            )
    fit.weights = [_rounded(w) for w in _best_weights(probs, gold, multi, steps)]
    return fit


def _rounded(value: float) -> float:
    """``value`` to 8 decimals: what a JSON file (the manifest, dev_fit.json) holds
    exactly, so a run and its resume use the very same numbers."""
    return round(float(value), 8)


def calibrated(
    probs: numpy.ndarray, temperature: Optional[Any], multi_label: bool
) -> numpy.ndarray:
    """``probs`` at a teacher's fitted temperature (None: as they are)."""
    if temperature is None:
        return probs
    t = numpy.asarray(temperature, dtype="float64")
    return apply_temperature(probs, t, multi_label).astype(probs.dtype)


def _best_weights(
    probs: List[numpy.ndarray], gold: numpy.ndarray, multi: bool, steps: int
) -> List[float]:
    """The weights on the simplex whose mix of ``probs`` has the least log-loss."""

    def loss(w: Sequence[float]) -> float:
        p = sum(wi * pi for wi, pi in zip(w, probs))
        p = numpy.clip(p, EPS, 1 - EPS)
        if multi:
            return float(-(gold * numpy.log(p) + (1 - gold) * numpy.log(1 - p)).mean())
        return float(-(gold * numpy.log(p)).sum(axis=1).mean())

    k = len(probs)
    if k == 1:
        return [1.0]
    if k <= 3:
        grid = [
            [c / steps for c in combo] + [(steps - sum(combo)) / steps]
            for combo in itertools.product(range(steps + 1), repeat=k - 1)
            if sum(combo) <= steps
        ]
        return min(grid, key=loss)
    w = [1.0 / k] * k
    for _ in range(3):
        for j in range(k):
            candidates = []
            for c in range(steps + 1):
                trial = list(w)
                trial[j] = c / steps
                total = sum(trial)
                if total > 0:
                    candidates.append([x / total for x in trial])
            w = min(candidates, key=loss)
    return w
