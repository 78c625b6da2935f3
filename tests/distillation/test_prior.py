"""``kd_label_prior``: label-prior weights fitted on unlabelled predictions, applied
to ``doc.cats`` and saved with the pipeline."""

import numpy
import pytest
import spacy

from spacy_kd.distillation.prior import (
    FACTORY,
    apply_prior_weights,
    fit_prior_weights,
    set_pipeline_prior,
)


def test_fitted_weights_move_the_mean_prediction_to_the_target_prior():
    rng = numpy.random.default_rng(0)
    # a classifier that under-predicts label 2 and over-predicts label 0
    P = rng.dirichlet([3.0, 1.0, 0.3, 1.0], size=500)
    target = numpy.array([0.25, 0.25, 0.25, 0.25])
    assert abs(P.mean(axis=0) - target).max() > 0.1
    w = fit_prior_weights(P, target)
    corrected = apply_prior_weights(P, w)
    assert corrected.mean(axis=0) == pytest.approx(target, abs=1e-5)
    assert corrected.sum(axis=1) == pytest.approx(numpy.ones(len(P)))
    assert w[2] > w[1] > w[0]  # the under-predicted label gains most
    assert numpy.exp(numpy.log(w).mean()) == pytest.approx(1.0)
    # the argmax decisions move towards the under-predicted label
    assert (corrected.argmax(1) == 2).sum() > (P.argmax(1) == 2).sum()
    # predictions that already match the prior need no correction
    assert fit_prior_weights(P, P.mean(axis=0)) == pytest.approx(
        numpy.ones(4), abs=1e-4
    )


def test_fit_refuses_bad_shapes_and_priors():
    P = numpy.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=r"probs must be \(n_docs, 3\)"):
        fit_prior_weights(P, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        fit_prior_weights(P, [0.2, 0.3])
    with pytest.raises(ValueError, match=r"probs must be"):
        fit_prior_weights(numpy.zeros((0, 2)), [0.5, 0.5])


def test_component_applies_the_weights_and_survives_to_disk(tmp_path):
    nlp = spacy.blank("en")
    weights = {"a": 0.4, "b": 1.0 / 3.0, "c": 7.5}
    target = {"a": 0.5, "b": 0.25, "c": 0.25}
    pipe = set_pipeline_prior(nlp, weights, after=None, target=target)
    assert nlp.pipe_names == ["label_prior"]
    doc = nlp.make_doc("some text")
    doc.cats = {"a": 0.7, "b": 0.2, "c": 0.1}
    pipe(doc)
    want = apply_prior_weights(numpy.array([[0.7, 0.2, 0.1]]), [0.4, 1 / 3, 7.5])[0]
    assert [doc.cats[k] for k in "abc"] == pytest.approx(want)
    assert sum(doc.cats.values()) == pytest.approx(1.0)
    assert doc.cats["c"] > doc.cats["a"]  # the decision moved
    nlp.to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    again = loaded.get_pipe("label_prior")
    assert loaded.get_pipe_meta("label_prior").factory == FACTORY
    assert again.weights == weights  # bit-identical floats (stdlib json)
    assert again.target == target
    # labels it has no weight for are left alone; an all-zero row stays zero
    doc = loaded.make_doc("x")
    doc.cats = {"a": 0.0, "b": 0.0, "other": 1.0}
    assert loaded.get_pipe("label_prior")(doc).cats == {
        "a": 0.0,
        "b": 0.0,
        "other": 1.0,
    }


@pytest.mark.parametrize(
    "bad", [{"a": 0.0}, {"a": -1.0}, {"a": float("nan")}, {"a": "1"}, {"": 1.0}]
)
def test_component_refuses_bad_weights(bad):
    pipe = spacy.blank("en").add_pipe(FACTORY)
    with pytest.raises(ValueError, match="prior weights"):
        pipe.set_weights(bad)
