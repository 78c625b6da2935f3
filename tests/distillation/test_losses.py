"""The distillation losses against an independent float64 reference.

The reference is written per row and per label with plain Python floats and
``math``, and its gradients are checked by central finite differences, so it
shares no code with ``spacy_kd.distillation.losses``.
"""

import math

import numpy
import pytest

from spacy_kd.distillation.losses import (
    CROSS_ENTROPY,
    SQUARED_ERROR,
    check_settings,
    distill_loss,
    distillation_loss,
    gold_loss,
)

KINDS = [CROSS_ENTROPY, SQUARED_ERROR]


def ref_softmax(z, T=1.0):
    m = max(z)
    e = [math.exp((x - m) / T) for x in z]
    s = sum(e)
    return [x / s for x in e]


def ref_sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def xlogy_ratio(a, b):
    return 0.0 if a == 0 else a * math.log(a / b)


def ref_row_loss(z, y, *, multi_label, kind, T=1.0, distill=False, mask=None):
    """One row's loss, straight from the formulas in the module docstring."""
    n = len(z)
    mask = [1.0] * n if mask is None else mask
    scale = T * T if distill else 1.0
    if multi_label:
        p = [ref_sigmoid(x / T) for x in z]
        if kind == CROSS_ENTROPY and distill:  # binary KL(y || p) per label
            terms = [
                xlogy_ratio(y[k], p[k]) + xlogy_ratio(1 - y[k], 1 - p[k])
                for k in range(n)
            ]
        elif kind == CROSS_ENTROPY:
            terms = [
                -(y[k] * math.log(p[k]) + (1 - y[k]) * math.log(1 - p[k]))
                for k in range(n)
            ]
        else:
            terms = [0.5 * (p[k] - y[k]) ** 2 for k in range(n)]
        return scale * sum(m * t for m, t in zip(mask, terms))
    p = ref_softmax(z, T)
    if kind == CROSS_ENTROPY:
        if distill:  # KL(y || p)
            return scale * sum(
                y[k] * (math.log(y[k]) - math.log(p[k])) for k in range(n) if y[k] > 0
            )
        return -sum(y[k] * math.log(p[k]) for k in range(n))
    return scale * sum(0.5 * (p[k] - y[k]) ** 2 for k in range(n))


def finite_diff(f, z, h=1e-6):
    grad = []
    for k in range(len(z)):
        up, down = list(z), list(z)
        up[k] += h
        down[k] -= h
        grad.append((f(up) - f(down)) / (2 * h))
    return grad


def random_case(rng, n=6, k=5, multi_label=False, scale=2.0):
    z = rng.normal(0, scale, (n, k))
    if multi_label:
        gold = (rng.random((n, k)) < 0.4).astype("float64")
        soft = rng.random((n, k))
    else:
        gold = numpy.eye(k)[rng.integers(0, k, n)]
        soft = rng.dirichlet(numpy.ones(k), n)
    return z, gold, soft


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_gold_loss_matches_reference(multi_label, kind):
    rng = numpy.random.default_rng(0)
    z, gold, _ = random_case(rng, multi_label=multi_label)
    mask = (rng.random(z.shape) < 0.8).astype("float64") if multi_label else None
    loss, d = gold_loss(z, gold, multi_label=multi_label, kind=kind, mask=mask)
    for i in range(len(z)):
        m = None if mask is None else list(mask[i])

        def f(row, i=i, m=m):
            return ref_row_loss(
                row, list(gold[i]), multi_label=multi_label, kind=kind, mask=m
            )

        assert loss[i] == pytest.approx(f(list(z[i])), rel=1e-10, abs=1e-12)
        numpy.testing.assert_allclose(
            d[i], finite_diff(f, list(z[i])), rtol=1e-6, atol=1e-8
        )


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("T", [1.0, 2.0, 5.0])
def test_distill_loss_matches_reference(multi_label, kind, T):
    rng = numpy.random.default_rng(1)
    z, _, soft = random_case(rng, multi_label=multi_label)
    loss, d = distill_loss(z, soft, temperature=T, multi_label=multi_label, kind=kind)
    for i in range(len(z)):

        def f(row, i=i):
            return ref_row_loss(
                row,
                list(soft[i]),
                multi_label=multi_label,
                kind=kind,
                T=T,
                distill=True,
            )

        assert loss[i] == pytest.approx(f(list(z[i])), rel=1e-9, abs=1e-12)
        numpy.testing.assert_allclose(
            d[i], finite_diff(f, list(z[i])), rtol=1e-6, atol=1e-8
        )


def test_hinton_gradient_closed_form():
    """d/dz T^2 KL(q || softmax(z/T)) = T (softmax(z/T) - q), worked out by hand."""
    z = numpy.array([[1.0, -2.0, 0.5]])
    q = numpy.array([[0.2, 0.3, 0.5]])
    T = 3.0
    _, d = distill_loss(z, q, temperature=T, multi_label=False)
    e = numpy.exp(z / T)
    numpy.testing.assert_allclose(d, T * (e / e.sum() - q), rtol=1e-12)


@pytest.mark.parametrize("multi_label", [False, True])
def test_kl_is_zero_when_the_student_matches_the_teacher(multi_label):
    rng = numpy.random.default_rng(2)
    z = rng.normal(0, 3, (4, 7))
    for T in (1.0, 4.0):
        if multi_label:
            q = 1 / (1 + numpy.exp(-z / T))
        else:
            q = numpy.exp(z / T) / numpy.exp(z / T).sum(axis=1, keepdims=True)
        loss, d = distill_loss(z, q, temperature=T, multi_label=multi_label)
        numpy.testing.assert_allclose(loss, 0.0, atol=1e-10)
        numpy.testing.assert_allclose(d, 0.0, atol=1e-12)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_batch_loss_weights_rows_by_alpha_and_example_weight(multi_label, kind):
    rng = numpy.random.default_rng(3)
    z, gold, soft = random_case(rng, n=8, multi_label=multi_label)
    pseudo = numpy.array([0, 1, 1, 0, 1, 0, 0, 1], dtype="float64")
    targets = numpy.where(pseudo[:, None] == 1, soft, gold)
    weights = rng.uniform(0.5, 2.0, len(z))
    alpha, T = 0.3, 2.5
    out = distillation_loss(
        z.astype("float32"), targets, pseudo=pseudo, weights=weights, alpha=alpha,
        temperature=T, multi_label=multi_label, kind=kind,
    )  # fmt: skip
    assert out.d_logits.dtype == numpy.float32
    want_gold = want_distill = 0.0
    z32 = z.astype("float32").astype("float64")
    for i in range(len(z)):
        is_p = pseudo[i] == 1
        w = weights[i] * ((1 - alpha) if is_p else alpha)

        def f(row, i=i, is_p=is_p, w=w):
            return w * ref_row_loss(
                row, list(targets[i]), multi_label=multi_label, kind=kind,
                T=T if is_p else 1.0, distill=is_p,
            )  # fmt: skip

        value = f(list(z32[i]))
        if is_p:
            want_distill += value
        else:
            want_gold += value
        numpy.testing.assert_allclose(
            out.d_logits[i], finite_diff(f, list(z32[i])), rtol=1e-5, atol=1e-6
        )
    assert out.gold == pytest.approx(want_gold, rel=1e-9)
    assert out.distill == pytest.approx(want_distill, rel=1e-9)
    assert out.total == pytest.approx(want_gold + want_distill, rel=1e-9)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_alpha_one_is_the_plain_gold_loss(multi_label, kind):
    rng = numpy.random.default_rng(4)
    z, gold, soft = random_case(rng, n=10, multi_label=multi_label)
    pseudo = (rng.random(len(z)) < 0.5).astype("float64")
    targets = numpy.where(pseudo[:, None] == 1, soft, gold)
    out = distillation_loss(
        z, targets, pseudo=pseudo, weights=numpy.ones(len(z)), alpha=1.0,
        temperature=3.0, multi_label=multi_label, kind=kind,
    )  # fmt: skip
    is_gold = pseudo == 0
    plain, d_plain = gold_loss(
        z[is_gold], gold[is_gold], multi_label=multi_label, kind=kind
    )
    assert out.total == pytest.approx(plain.sum(), rel=1e-12)
    assert out.distill == 0.0
    numpy.testing.assert_allclose(out.d_logits[is_gold], d_plain, rtol=1e-12)
    numpy.testing.assert_array_equal(out.d_logits[~is_gold], 0.0)
    # and on an all-gold batch it is the plain loss whatever the temperature
    all_gold = distillation_loss(
        z, gold, pseudo=numpy.zeros(len(z)), weights=numpy.ones(len(z)), alpha=1.0,
        temperature=7.0, multi_label=multi_label, kind=kind,
    )  # fmt: skip
    full, d_full = gold_loss(z, gold, multi_label=multi_label, kind=kind)
    assert all_gold.total == pytest.approx(full.sum(), rel=1e-12)
    numpy.testing.assert_allclose(all_gold.d_logits, d_full, rtol=1e-12)


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_t_squared_keeps_the_gradient_size_steady(multi_label, kind):
    """Without T^2 the gradient shrinks like 1/T^2; with it, its norm levels off."""
    rng = numpy.random.default_rng(5)
    z = rng.normal(0, 1, (32, 10))
    teacher = rng.normal(0, 1, (32, 10))
    norms = []
    for T in (2.0, 4.0, 8.0, 16.0, 32.0):
        if multi_label:
            q = 1 / (1 + numpy.exp(-teacher / T))
        else:
            q = numpy.exp(teacher / T) / numpy.exp(teacher / T).sum(
                axis=1, keepdims=True
            )
        _, d = distill_loss(z, q, temperature=T, multi_label=multi_label, kind=kind)
        norms.append(numpy.linalg.norm(d))
    assert max(norms) / min(norms) < 1.5, norms
    unscaled = [n / T**2 for n, T in zip(norms, (2.0, 4.0, 8.0, 16.0, 32.0))]
    assert unscaled[0] / unscaled[-1] > 100


def test_missing_multilabel_values_get_no_gradient():
    rng = numpy.random.default_rng(6)
    z, gold, _ = random_case(rng, multi_label=True)
    mask = numpy.ones_like(z)
    mask[:, 1] = 0.0
    loss, d = gold_loss(z, gold, multi_label=True, mask=mask)
    numpy.testing.assert_array_equal(d[:, 1], 0.0)
    kept, _ = gold_loss(
        numpy.delete(z, 1, axis=1), numpy.delete(gold, 1, axis=1), multi_label=True
    )
    numpy.testing.assert_allclose(loss, kept, rtol=1e-12)


def test_extreme_logits_stay_finite():
    z = numpy.array([[500.0, -500.0, 0.0], [-800.0, 800.0, 1.0]])
    y = numpy.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    for multi_label in (False, True):
        for kind in KINDS:
            loss, d = gold_loss(z, y, multi_label=multi_label, kind=kind)
            assert numpy.isfinite(loss).all() and numpy.isfinite(d).all()
    loss, _ = gold_loss(z, y, multi_label=False)
    assert loss[0] == pytest.approx(1000.0)  # -log softmax = 500 - (-500)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"temperature": 0.0, "alpha": 0.5}, "temperature must be > 0"),
        ({"temperature": -1.0, "alpha": 0.5}, "temperature must be > 0"),
        ({"temperature": 1.0, "alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"temperature": 1.0, "alpha": -0.1}, r"alpha must be in \[0, 1\]"),
        ({"temperature": 1.0, "alpha": 0.5, "kind": "hinge"}, "unknown loss 'hinge'"),
    ],
)
def test_bad_settings_are_clear_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        check_settings(**settings)
    z = numpy.zeros((1, 2))
    kind = settings.get("kind", CROSS_ENTROPY)
    with pytest.raises(ValueError, match=message):
        distillation_loss(
            z, numpy.array([[1.0, 0.0]]), pseudo=numpy.zeros(1), weights=numpy.ones(1),
            alpha=settings["alpha"], temperature=settings["temperature"],
            multi_label=False, kind=kind,
        )  # fmt: skip
