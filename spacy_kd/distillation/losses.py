"""Distillation losses on logits, with their gradients.

Every function takes the student's *logits* ``z`` (batch x labels) and returns
the per-example loss and ``d loss / d z``. The student component takes care of
getting logits out of spaCy's textcat models and of feeding the gradient back
through whatever output layer the model has (see ``spacy_kd.distillation.logits``).

Exclusive classes (``multi_label=False``)
    gold, cross-entropy:    ``-sum_k y_k log softmax(z)_k``
    distill, cross-entropy: ``T^2 KL(q_T || softmax(z / T))`` (Hinton et al. 2015)
Multi-label
    gold, cross-entropy:    ``sum_k softplus(z_k) - y_k z_k`` (binary cross-entropy)
    distill, cross-entropy: ``T^2 sum_k BCE(q_T,k, sigmoid(z_k / T))``, reported
                            minus the teacher's entropy (a binary KL, 0 at a match)
Squared error (``kind="squared_error"``, spaCy's textcat loss, on probabilities)
    gold:    ``1/2 sum_k (p_k - y_k)^2``
    distill: ``T^2 1/2 sum_k (p_T,k - q_T,k)^2``

``q_T`` are the teacher's probabilities softened at temperature T
(``spacy_kd.annotate.pseudo.teacher_targets``). The ``T^2`` factor keeps the
gradient's size roughly independent of T, so alpha keeps its meaning when T
changes. Losses are summed over the batch (not averaged), like the gradient of
spaCy's own textcat, so an optimizer tuned for spaCy keeps its scale.

In a batch, gold rows get the gold term weighted by ``alpha * w_i`` and
pseudo-labelled rows the distillation term weighted by ``(1 - alpha) * w_i``,
where ``w_i`` is the example's weight. With ``alpha = 1`` the loss is exactly the
plain gold loss.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

from thinc.api import get_array_module
from thinc.types import Floats1d, Floats2d

from spacy_kd.util import sigmoid

CROSS_ENTROPY = "cross_entropy"
SQUARED_ERROR = "squared_error"
LOSS_KINDS = (CROSS_ENTROPY, SQUARED_ERROR)


@dataclass
class DistillationLoss:
    """The loss of one batch: total = gold + distill (each already weighted)."""

    total: float
    gold: float
    distill: float
    d_logits: Floats2d


def check_settings(
    *, temperature: float, alpha: float, kind: str = CROSS_ENTROPY
) -> None:
    """Raise ValueError for a temperature <= 0, alpha outside [0, 1] or an unknown
    loss."""
    if not (isinstance(temperature, (int, float)) and temperature > 0.0):
        raise ValueError(
            f"the distillation temperature must be > 0, got {temperature!r}"
        )
    if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"the distillation alpha must be in [0, 1], got {alpha!r}")
    if kind not in LOSS_KINDS:
        raise ValueError(
            f"unknown loss '{kind}': expected one of {', '.join(LOSS_KINDS)}"
        )


def gold_loss(
    logits: Floats2d,
    truth: Floats2d,
    *,
    multi_label: bool,
    kind: str = CROSS_ENTROPY,
    mask: Optional[Floats2d] = None,
) -> Tuple[Floats1d, Floats2d]:
    """Per-example loss against gold labels, and its gradient wrt the logits.

    mask: 0 where a label's value is missing (multi-label only), 1 elsewhere.
    """
    return _term(logits, truth, 1.0, multi_label=multi_label, kind=kind, mask=mask)


def distill_loss(
    logits: Floats2d,
    targets: Floats2d,
    *,
    temperature: float,
    multi_label: bool,
    kind: str = CROSS_ENTROPY,
) -> Tuple[Floats1d, Floats2d]:
    """Per-example ``T^2``-scaled loss against softened teacher targets, and its
    gradient.

    With cross-entropy the value reported is the KL divergence (the cross-entropy,
    or the binary cross-entropy for multi-label, minus the teacher's entropy), which
    is 0 when the student matches the teacher; the gradient is the cross-entropy's.
    """
    loss, d = _term(logits, targets, temperature, multi_label=multi_label, kind=kind)
    xp = get_array_module(logits)
    if kind == CROSS_ENTROPY:
        q = xp.asarray(targets, dtype="float64")
        neg_entropy = _xlogx(xp, q)
        if multi_label:
            neg_entropy = neg_entropy + _xlogx(xp, 1.0 - q)
        loss = loss + temperature**2 * neg_entropy.sum(axis=1)
    return loss, d


def distillation_loss(
    logits: Floats2d,
    targets: Floats2d,
    *,
    pseudo: Floats1d,
    weights: Floats1d,
    alpha: float,
    temperature: float,
    multi_label: bool,
    kind: str = CROSS_ENTROPY,
    mask: Optional[Floats2d] = None,
) -> DistillationLoss:
    """The batch loss: gold rows get ``alpha * gold``, pseudo rows
    ``(1 - alpha) * distill``.

    targets: gold labels on gold rows, softened teacher targets on pseudo rows.
    pseudo: 1 for a pseudo-labelled row, 0 for a gold row.
    weights: per-example weights.
    mask: missing-value mask for the gold rows (multi-label).
    """
    check_settings(temperature=temperature, alpha=alpha, kind=kind)
    xp = get_array_module(logits)
    pseudo = xp.asarray(pseudo, dtype="float64")
    weights = xp.asarray(weights, dtype="float64")
    is_gold = pseudo == 0
    d = xp.zeros(logits.shape, dtype="float64")
    row_loss = xp.zeros((logits.shape[0],), dtype="float64")
    gold_total = distill_total = 0.0
    if bool(is_gold.any()):
        g_mask = None if mask is None else mask[is_gold]
        loss, grad = gold_loss(
            logits[is_gold],
            targets[is_gold],
            multi_label=multi_label,
            kind=kind,
            mask=g_mask,
        )
        scale = alpha * weights[is_gold]
        row_loss[is_gold] = scale * loss
        d[is_gold] = scale[:, None] * grad
        gold_total = float((scale * loss).sum())
    if bool((~is_gold).any()):
        loss, grad = distill_loss(
            logits[~is_gold],
            targets[~is_gold],
            temperature=temperature,
            multi_label=multi_label,
            kind=kind,
        )
        scale = (1.0 - alpha) * weights[~is_gold]
        row_loss[~is_gold] = scale * loss
        d[~is_gold] = scale[:, None] * grad
        distill_total = float((scale * loss).sum())
    return DistillationLoss(
        total=gold_total + distill_total,
        gold=gold_total,
        distill=distill_total,
        d_logits=d.astype(logits.dtype),
    )


def _term(
    logits: Floats2d,
    targets: Floats2d,
    temperature: float,
    *,
    multi_label: bool,
    kind: str,
    mask: Optional[Floats2d] = None,
) -> Tuple[Floats1d, Floats2d]:
    """``T^2 loss(targets, act(z / T))`` per row and its gradient wrt z (float64)."""
    if kind not in LOSS_KINDS:
        raise ValueError(
            f"unknown loss '{kind}': expected one of {', '.join(LOSS_KINDS)}"
        )
    xp = get_array_module(logits)
    T = float(temperature)
    z = xp.asarray(logits, dtype="float64") / T
    y = xp.asarray(targets, dtype="float64")
    m = xp.ones_like(y) if mask is None else xp.asarray(mask, dtype="float64")
    if multi_label:
        p = sigmoid(z)
        if kind == CROSS_ENTROPY:
            loss = m * (_softplus(xp, z) - y * z)
            d_z = m * (p - y)
        else:
            loss = 0.5 * m * (p - y) ** 2
            d_z = m * (p - y) * p * (1.0 - p)
    else:
        shifted = z - z.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        p = xp.exp(log_p)
        if kind == CROSS_ENTROPY:
            loss = -y * log_p
            d_z = p * y.sum(axis=1, keepdims=True) - y
        else:
            loss = 0.5 * (p - y) ** 2
            g = p - y
            d_z = p * (g - (p * g).sum(axis=1, keepdims=True))
    # d/dz of T^2 f(z / T) = T f'(z / T)
    return T * T * loss.sum(axis=1), T * d_z


def _softplus(xp, z):
    return xp.logaddexp(0.0, z)


def _xlogx(xp, q):
    return xp.where(q > 0, q * xp.log(xp.where(q > 0, q, 1.0)), 0.0)
