"""Teacher calibration: temperatures against a brute-force float64 search, on
teachers made over- and under-confident on purpose, and the ECE worked by hand."""

import numpy
import pytest

from spacy_kd.annotate.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)


def sample(n: int, k: int, seed: int = 0):
    """True class probabilities q and gold labels drawn from them."""
    rng = numpy.random.default_rng(seed)
    q = rng.dirichlet(numpy.full(k, 0.7), size=n)
    gold = numpy.zeros((n, k))
    gold[numpy.arange(n), [rng.choice(k, p=row) for row in q]] = 1.0
    return q, gold


def sharpen(q, power):
    p = q**power
    return p / p.sum(axis=1, keepdims=True)


def brute_force_temperature(p, gold):
    """The NLL minimum over a fine log grid, written without the module's code (the
    teacher's probabilities clipped at 1e-7, as the module's logits are)."""
    grid = numpy.exp(numpy.linspace(numpy.log(0.05), numpy.log(20.0), 40001))
    logp = numpy.log(numpy.clip(p, 1e-7, 1.0))
    best, best_t = numpy.inf, None
    for t in grid[::40]:  # coarse pass, then a fine one around the best
        s = logp / t
        loss = -(gold * (s - numpy.log(numpy.exp(s).sum(1, keepdims=True)))).sum(1)
        if loss.mean() < best:
            best, best_t = loss.mean(), t
    for t in grid[(grid > best_t / 1.2) & (grid < best_t * 1.2)]:
        s = logp / t
        loss = -(gold * (s - numpy.log(numpy.exp(s).sum(1, keepdims=True)))).sum(1)
        if loss.mean() < best:
            best, best_t = loss.mean(), t
    return best_t


@pytest.mark.parametrize("power", [3.0, 0.4])
def test_exclusive_temperature_matches_brute_force_and_undoes_the_distortion(power):
    q, gold = sample(4000, 5)
    teacher = sharpen(q, power)  # power 3: over-confident; 0.4: under-confident
    t = fit_temperature(teacher, gold, multi_label=False)
    assert t == pytest.approx(brute_force_temperature(teacher, gold), rel=2e-3)
    assert t == pytest.approx(
        power, rel=0.1
    )  # softmax(power log q / T) = q at T = power
    before = expected_calibration_error(teacher, gold, False)
    after = expected_calibration_error(
        apply_temperature(teacher, t, False), gold, False
    )
    assert after < before / 2
    calibrated = apply_temperature(teacher, t, False)
    assert numpy.allclose(calibrated.sum(1), 1.0)
    assert (calibrated.argmax(1) == teacher.argmax(1)).all()


def test_multi_label_temperature_per_label():
    rng = numpy.random.default_rng(1)
    q = rng.uniform(0.02, 0.98, size=(5000, 2))
    gold = (rng.uniform(size=q.shape) < q).astype(float)
    z = numpy.log(q / (1 - q))
    teacher = 1 / (1 + numpy.exp(-z * numpy.array([2.0, 0.5])))
    t = fit_temperature(teacher, gold, multi_label=True)
    assert t.shape == (2,)
    assert t[0] == pytest.approx(2.0, rel=0.1) and t[1] == pytest.approx(0.5, rel=0.1)
    after = apply_temperature(teacher, t, True)
    assert expected_calibration_error(after, gold, True) < expected_calibration_error(
        teacher, gold, True
    )


def test_ece_worked_by_hand():
    probs = numpy.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    gold = numpy.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    # one doc a bin: |1 - 0.9|, |0 - 0.6|, |1 - 0.8| averaged
    assert expected_calibration_error(probs, gold, False, n_bins=10) == pytest.approx(
        0.3
    )
    # multi-label: six (doc, label) pairs; bins of width 0.5: (0, .5] and (.5, 1]
    low = [0.1, 0.4, 0.2]  # gold 0, 1, 0
    high = [0.9, 0.6, 0.8]  # gold 1, 0, 1
    want = (3 * abs(1 / 3 - numpy.mean(low)) + 3 * abs(2 / 3 - numpy.mean(high))) / 6
    got = expected_calibration_error(probs, gold, True, n_bins=2)
    assert got == pytest.approx(want)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="same"):
        fit_temperature(numpy.ones((3, 2)) / 2, numpy.ones((3, 3)), False)
