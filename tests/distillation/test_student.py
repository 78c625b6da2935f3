"""The student components: training on gold + soft labels, validation, round trips."""

import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import make_tempdir
from student_data import labels_for, make_examples, student_nlp
from thinc.api import Adam

from spacy_kd.annotate.pseudo import (
    AnnotationError,
    mark_pseudo,
    set_example_weight,
)
from spacy_kd.distillation.losses import distillation_loss
from spacy_kd.distillation.student import KDMultiLabelTextCategorizer, KDTextCategorizer


@pytest.fixture(params=[False, True], ids=["exclusive", "multilabel"])
def multi_label(request) -> bool:
    return request.param


def cats_of(docs):
    return [doc.cats for doc in docs]


def assert_same_cats(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        numpy.testing.assert_allclose(
            [x[k] for k in x], [y[k] for k in x], rtol=1e-5, atol=1e-6
        )


def test_overfitting_IO(multi_label):
    """Train on gold + pseudo-labelled docs: the loss falls, the gold and
    distillation terms are logged, and the pipeline round-trips."""
    nlp = student_nlp(multi_label, temperature=2.0, alpha=0.5)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    examples = gold + pseudo
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    pipe = nlp.get_pipe("textcat")
    assert isinstance(
        pipe, KDMultiLabelTextCategorizer if multi_label else KDTextCategorizer
    )
    assert list(pipe.labels) == labels_for(multi_label)
    history = []
    for _ in range(20):
        losses = {}
        nlp.update(examples, sgd=optimizer, losses=losses)
        assert losses["textcat"] == pytest.approx(
            losses["textcat_gold"] + losses["textcat_distill"]
        )
        assert losses["textcat_gold"] > 0 and losses["textcat_distill"] > 0
        history.append(losses)
    first, last = history[0], history[-1]
    assert last["textcat_gold"] < 0.5 * first["textcat_gold"]
    assert last["textcat_distill"] < 0.5 * first["textcat_distill"]

    texts = [eg.reference.text for eg in examples[:12]]
    predicted = cats_of(nlp(t) for t in texts)
    # the gold docs are learnt
    for eg, cats in zip(gold, predicted):
        best = max(cats, key=cats.get) if not multi_label else None
        if not multi_label:
            assert eg.reference.cats[best] == 1.0
    assert_same_cats(predicted, cats_of(nlp.pipe(texts, batch_size=5)))
    with make_tempdir() as d:
        nlp.to_disk(d)
        nlp2 = spacy.load(d)
        assert (
            nlp2.get_pipe_meta("textcat").factory
            == nlp.get_pipe_meta("textcat").factory
        )
        assert_same_cats(predicted, cats_of(nlp2(t) for t in texts))
    nlp3 = student_nlp(multi_label, temperature=2.0, alpha=0.5)
    nlp3.from_bytes(nlp.to_bytes())
    assert_same_cats(predicted, cats_of(nlp3.pipe(texts)))


def _grads(pipe):
    out = {}
    for node in pipe.model.walk():
        for name in node.grad_names:
            out[(node.id, name)] = numpy.asarray(node.get_grad(name)).copy()
    return out


def _update_grads(nlp, examples):
    """The gradient of one update (no optimizer step)."""
    pipe = nlp.get_pipe("textcat")
    for node in pipe.model.walk():
        for name in node.grad_names:
            node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    pipe.update(examples, drop=0.0)
    return _grads(pipe)


def test_alpha_switches_the_terms_off(multi_label):
    nlp = student_nlp(multi_label)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    nlp.initialize(lambda: gold + pseudo)
    pipe = nlp.get_pipe("textcat")
    pipe.set_distillation(alpha=1.0)
    losses = pipe.update(pseudo[:4], drop=0.0)
    assert losses["textcat"] == 0.0
    assert all(not g.any() for g in _update_grads(nlp, pseudo[:4]).values())
    assert any(g.any() for g in _update_grads(nlp, gold[:4]).values())
    pipe.set_distillation(alpha=0.0)
    assert all(not g.any() for g in _update_grads(nlp, gold[:4]).values())
    assert any(g.any() for g in _update_grads(nlp, pseudo[:4]).values())


def test_example_weight_scales_the_gradient(multi_label):
    nlp = student_nlp(multi_label)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    nlp.initialize(lambda: gold + pseudo)
    batch = [gold[0], pseudo[0]]
    before = _update_grads(nlp, batch)
    for eg in batch:
        set_example_weight(eg.reference, 3.0)
    after = _update_grads(nlp, batch)
    for key in before:
        numpy.testing.assert_allclose(
            after[key], 3.0 * before[key], rtol=1e-4, atol=1e-5
        )


def test_update_uses_the_softened_teacher_targets():
    """The reported loss is the batch loss on the logits, with targets re-softened
    from the teachers' logits at the current temperature."""
    from spacy_kd.distillation.logits import logits_forward

    nlp = student_nlp(False, temperature=3.0, alpha=0.25)
    gold, pseudo = make_examples(nlp, multi_label=False)
    nlp.initialize(lambda: gold + pseudo)
    pipe = nlp.get_pipe("textcat")
    batch = gold[:3] + pseudo[:3]
    labels = list(pipe.labels)
    targets = []
    for eg in batch:
        record = eg.reference.user_data.get("spacy_kd")
        if record is None:
            targets.append([eg.reference.cats[k] for k in labels])
            continue
        total = numpy.zeros(len(labels))
        for name, w in zip(record["teachers"], record["weights"]):
            z = numpy.array(record["logits"][name]) / 3.0
            total += w * numpy.exp(z - z.max()) / numpy.exp(z - z.max()).sum()
        targets.append(list(total))
    logits, _ = logits_forward(
        pipe.model, [eg.predicted for eg in batch], is_train=False
    )
    want = distillation_loss(
        logits, numpy.array(targets), pseudo=numpy.array([0, 0, 0, 1, 1, 1]),
        weights=numpy.ones(6), alpha=0.25, temperature=3.0, multi_label=False,
    )  # fmt: skip
    losses = pipe.update(batch, drop=0.0)
    assert losses["textcat"] == pytest.approx(want.total, rel=1e-5)
    assert losses["textcat_gold"] == pytest.approx(want.gold, rel=1e-5)
    assert losses["textcat_distill"] == pytest.approx(want.distill, rel=1e-5)
    scores = pipe.model.predict([eg.predicted for eg in batch])
    loss, d_scores = pipe.get_loss(batch, scores)
    assert d_scores.shape == scores.shape
    assert numpy.isfinite(d_scores).all()


def test_stock_textcat_rejects_what_the_student_accepts():
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat")
    gold, pseudo = make_examples(nlp, multi_label=False)
    with pytest.raises(ValueError, match="E851"):
        nlp.initialize(lambda: gold + pseudo)


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"temperature": -2.0}, "temperature must be > 0"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        ({"alpha": -0.5}, r"alpha must be in \[0, 1\]"),
        ({"loss": "hinge"}, "unknown loss 'hinge'"),
    ],
)
def test_bad_settings_fail_when_the_component_is_made(settings, message):
    with pytest.raises(ValueError, match=message):
        student_nlp(False, **settings)


def test_set_distillation_checks_values():
    pipe = student_nlp(False).get_pipe("textcat")
    pipe.set_distillation(temperature=4.0, alpha=0.1)
    assert (pipe.temperature, pipe.alpha) == (4.0, 0.1)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        pipe.set_distillation(temperature=0.0)
    assert pipe.temperature == 4.0


def _pseudo(nlp, text, labels, probs, multi_label=False, **kwargs):
    doc = nlp.make_doc(text)
    mark_pseudo(
        doc, labels=labels, probs={"t": probs}, multi_label=multi_label, **kwargs
    )
    return Example(nlp.make_doc(text), doc)


def test_bad_examples_are_clear_errors():
    nlp = student_nlp(False)
    gold, pseudo = make_examples(nlp, multi_label=False)
    nlp.initialize(lambda: gold + pseudo)
    pipe = nlp.get_pipe("textcat")
    labels = list(pipe.labels)

    soft_gold = nlp.make_doc("soft gold doc")
    soft_gold.cats = {k: 0.25 for k in labels}
    with pytest.raises(
        AnnotationError, match=r"gold example 0 .*0\.25; gold labels must be 0 or 1"
    ):
        pipe.update([Example(nlp.make_doc("soft gold doc"), soft_gold)])

    two = nlp.make_doc("two positives")
    two.cats = {k: float(i < 2) for i, k in enumerate(labels)}
    with pytest.raises(AnnotationError, match="2 positive labels .* exclusive"):
        pipe.update([Example(nlp.make_doc("two positives"), two)])

    other = labels[:3] + ["misc.forsale"]
    with pytest.raises(
        AnnotationError,
        match=r"missing \['talk.politics.mideast'\].*unknown \['misc.forsale'\]",
    ):
        pipe.update([_pseudo(nlp, "wrong labels", other, [0.25] * 4)])

    eg = _pseudo(nlp, "not normalised", labels, [0.25] * 4)
    eg.reference.cats = {k: 0.5 for k in labels}
    with pytest.raises(AnnotationError, match="must sum to 1, they sum to 2"):
        pipe.update([eg])

    eg = _pseudo(nlp, "out of range", labels, [0.25] * 4)
    eg.reference.cats[labels[0]] = 1.5
    with pytest.raises(AnnotationError, match=r"outside \[0, 1\]"):
        pipe.update([eg])

    multi = _pseudo(nlp, "multi", labels, [0.9, 0.8, 0.1, 0.1], multi_label=True)
    with pytest.raises(
        AnnotationError, match="annotated as multi-label but the student is exclusive"
    ):
        pipe.update([multi])


def test_bad_pseudo_docs_stop_initialize():
    nlp = student_nlp(False)
    gold, pseudo = make_examples(nlp, multi_label=False)
    labels = list(gold[0].reference.cats)
    bad = _pseudo(nlp, "wrong labels", labels[:3] + ["misc.forsale"], [0.25] * 4)
    with pytest.raises(AnnotationError, match="label set differs"):
        nlp.initialize(lambda: gold + pseudo + [bad])


BOW = {
    "@architectures": "spacy.TextCatBOW.v3",
    "exclusive_classes": True,
    "ngram_size": 1,
    "no_output_layer": False,
    "length": 4096,
}


@pytest.mark.parametrize(
    "multi_label,bow",
    [(False, False), (True, False), (False, True)],
    ids=["softmax-layer", "logistic", "softmax-activation"],
)
def test_get_loss_gives_the_gradient_the_output_layer_expects(multi_label, bow):
    """Backpropagating get_loss's gradient through the stock model's own backprop
    moves the weights exactly as update does."""
    if bow:
        nlp = spacy.blank("en")
        nlp.add_pipe(
            "kd_textcat", name="textcat", config={"model": BOW, "temperature": 2.0}
        )
    else:
        nlp = student_nlp(multi_label, temperature=2.0)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    nlp.initialize(lambda: gold + pseudo)
    nlp.update(gold + pseudo, sgd=Adam(0.01))  # move away from the initial weights
    pipe = nlp.get_pipe("textcat")
    batch = gold[:4] + pseudo[:4]
    want = _update_grads(nlp, batch)
    for node in pipe.model.walk():
        for name in node.grad_names:
            node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    scores, backprop = pipe.model.begin_update([eg.predicted for eg in batch])
    loss, d_scores = pipe.get_loss(batch, scores)
    backprop(d_scores)
    got = _grads(pipe)
    assert loss == pytest.approx(pipe.update(batch, drop=0.0)["textcat"], rel=1e-4)
    for key in want:
        numpy.testing.assert_allclose(got[key], want[key], rtol=2e-3, atol=2e-5)


def test_hard_pseudo_docs_at_t1_train_like_gold_docs():
    """At T = 1 and alpha = 0.5 a hard pseudo-labelled doc gives exactly the
    gradient of the same doc as a gold doc: the two terms agree where they should."""
    nlp = student_nlp(False, temperature=1.0, alpha=0.5)
    gold, pseudo = make_examples(nlp, multi_label=False)
    nlp.initialize(lambda: gold + pseudo)
    labels = list(nlp.get_pipe("textcat").labels)
    as_pseudo = []
    for eg in gold:
        doc = nlp.make_doc(eg.reference.text)
        probs = [eg.reference.cats[k] for k in labels]
        mark_pseudo(
            doc, labels=labels, probs={"t": probs}, multi_label=False, hard=True
        )
        as_pseudo.append(Example(nlp.make_doc(doc.text), doc))
    want = _update_grads(nlp, gold)
    got = _update_grads(nlp, as_pseudo)
    for key in want:
        numpy.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-7)
