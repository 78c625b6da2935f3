"""Teacher calibration: temperatures fitted on labelled dev data, and the expected
calibration error.

A teacher's probabilities ``p`` are rescaled through their logits ``z`` (``log p``
for exclusive classes, where softmax ignores a shift; ``logit p`` per label for
multi-label): ``p_T = softmax(z / T)`` or ``sigmoid(z / T)``. ``T`` is the one value
(per label, for multi-label) that minimises the negative log-likelihood of the gold
labels; ``T > 1`` softens an over-confident teacher, ``T < 1`` sharpens an
under-confident one, and the argmax never changes. The NLL is convex in ``1 / T``,
so a golden-section search over ``1 / T`` finds the minimum.
"""

import math
from typing import Callable, Union

import numpy

from spacy_kd.util import EPS

TemperatureT = Union[float, numpy.ndarray]
# the range searched for 1 / T
MIN_INVERSE, MAX_INVERSE = 0.02, 20.0
TOLERANCE = 1e-5
N_BINS = 15


def logits_of(probs: numpy.ndarray, multi_label: bool) -> numpy.ndarray:
    """Logits that give back ``probs`` (clipped ``EPS`` away from 0 and 1)."""
    p = numpy.clip(numpy.asarray(probs, dtype="float64"), EPS, 1.0 - EPS)
    return numpy.log(p) - numpy.log1p(-p) if multi_label else numpy.log(p)


def apply_temperature(
    probs: numpy.ndarray, temperature: TemperatureT, multi_label: bool
) -> numpy.ndarray:
    """``probs`` rescaled at ``temperature`` (a scalar, or one per label)."""
    z = logits_of(probs, multi_label) / numpy.asarray(temperature, dtype="float64")
    if multi_label:
        return 1.0 / (1.0 + numpy.exp(-z))
    z = z - z.max(axis=1, keepdims=True)
    e = numpy.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: numpy.ndarray, gold: numpy.ndarray, multi_label: bool) -> float:
    """Mean negative log-likelihood of 0/1 ``gold`` (per doc for exclusive classes,
    per doc and label for multi-label)."""
    p = numpy.clip(numpy.asarray(probs, dtype="float64"), EPS, 1.0 - EPS)
    y = numpy.asarray(gold, dtype="float64")
    if multi_label:
        return float(-(y * numpy.log(p) + (1 - y) * numpy.log1p(-p)).mean())
    return float(-(y * numpy.log(p)).sum(axis=1).mean())


def _golden_min(f: Callable[[float], float], lo: float, hi: float) -> float:
    """The minimum of a unimodal ``f`` on [lo, hi], to ``TOLERANCE``."""
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    while b - a > TOLERANCE:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2.0


def fit_temperature(
    probs: numpy.ndarray, gold: numpy.ndarray, multi_label: bool
) -> TemperatureT:
    """The temperature of least NLL on (``probs``, 0/1 ``gold``): a float for
    exclusive classes, an array with one per label for multi-label."""
    probs = numpy.asarray(probs, dtype="float64")
    gold = numpy.asarray(gold, dtype="float64")
    if probs.shape != gold.shape or probs.ndim != 2 or len(probs) == 0:
        raise ValueError(
            f"probs {probs.shape} and gold {gold.shape} must be the same (docs, labels)"
        )
    if not multi_label:
        z = logits_of(probs, False)

        def loss(beta: float) -> float:
            s = beta * z
            top = s.max(axis=1, keepdims=True)
            log_norm = top[:, 0] + numpy.log(numpy.exp(s - top).sum(axis=1))
            return float((log_norm - (gold * s).sum(axis=1)).mean())

        return 1.0 / _golden_min(loss, MIN_INVERSE, MAX_INVERSE)
    temperatures = numpy.ones(probs.shape[1])
    z_all = logits_of(probs, True)
    for j in range(probs.shape[1]):
        z, y = z_all[:, j], gold[:, j]

        def binary_loss(beta: float, z=z, y=y) -> float:
            s = beta * z
            # log(1 + exp(s)) - y s, stable
            return float((numpy.logaddexp(0.0, s) - y * s).mean())

        temperatures[j] = 1.0 / _golden_min(binary_loss, MIN_INVERSE, MAX_INVERSE)
    return temperatures


def expected_calibration_error(
    probs: numpy.ndarray, gold: numpy.ndarray, multi_label: bool, n_bins: int = N_BINS
) -> float:
    """The expected calibration error over ``n_bins`` equal-width bins.

    Exclusive classes: the confidence of the top class against whether it is the
    gold class. Multi-label: every (doc, label) probability against whether the
    label is gold.
    """
    probs = numpy.asarray(probs, dtype="float64")
    gold = numpy.asarray(gold, dtype="float64")
    if multi_label:
        confidence, correct = probs.ravel(), gold.ravel()
    else:
        top = probs.argmax(axis=1)
        confidence = probs[numpy.arange(len(probs)), top]
        correct = gold[numpy.arange(len(probs)), top]
    if len(confidence) == 0:
        raise ValueError("no predictions to measure calibration on")
    # bin i holds confidences in (i / n, (i + 1) / n]; 0 goes to the first bin
    bins = numpy.clip(numpy.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    total = 0.0
    for i in range(n_bins):
        inside = bins == i
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            total += inside.sum() * gap
    return float(total / len(confidence))
