"""The pseudo-label record: teachers' outputs on a doc, combined and re-softened."""

import json
import math

import numpy
import pytest
import spacy
from pseudo_corpus import LABELS, sigmoid, softmax
from spacy.tokens import DocBin

from spacy_kd.annotate.pseudo import (
    AnnotationError,
    combined_probs,
    is_pseudo,
    mark_pseudo,
    soften_probs,
    teacher_targets,
)


def test_mark_pseudo_combines_teachers_and_survives_a_docbin():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("the shuttle launch")
    p1, p2 = [0.1, 0.2, 0.6, 0.1], [0.3, 0.3, 0.2, 0.2]
    mark_pseudo(
        doc, labels=LABELS, probs={"elmo": p1, "bert": p2},
        weights={"elmo": 1.0, "bert": 3.0}, multi_label=False,
    )  # fmt: skip
    want = 0.25 * numpy.array(p1) + 0.75 * numpy.array(p2)
    numpy.testing.assert_allclose([doc.cats[k] for k in LABELS], want)
    assert is_pseudo(doc)
    data = DocBin(store_user_data=True, docs=[doc]).to_bytes()
    back = next(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    # msgpack gives lists back as tuples; the values are the same
    assert (
        json.loads(json.dumps(back.user_data["spacy_kd"])) == doc.user_data["spacy_kd"]
    )
    assert list(back.user_data["spacy_kd"]["weights"]) == [0.25, 0.75]
    numpy.testing.assert_allclose(
        teacher_targets(back, LABELS, 2.0), teacher_targets(doc, LABELS, 2.0)
    )
    assert back.cats == pytest.approx(doc.cats)
    gold = nlp.make_doc("gold")
    gold.cats = {k: float(k == "sci.space") for k in LABELS}
    assert not is_pseudo(gold)
    gold.user_data["spacy_kd"] = {"source": "gold"}
    assert not is_pseudo(gold)


def test_hard_marks_argmax_or_threshold_but_keeps_teacher_outputs():
    nlp = spacy.blank("en")
    doc = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"t": [0.1, 0.5, 0.3, 0.1]},
        multi_label=False, hard=True,
    )  # fmt: skip
    assert doc.cats == {
        "comp.graphics": 0,
        "rec.sport.hockey": 1,
        "sci.space": 0,
        "talk.politics.mideast": 0,
    }
    assert doc.user_data["spacy_kd"]["probs"]["t"] == [0.1, 0.5, 0.3, 0.1]
    # hard targets do not soften
    numpy.testing.assert_array_equal(teacher_targets(doc, LABELS, 5.0), [0, 1, 0, 0])
    multi = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"t": [0.7, 0.5, 0.3, 0.9]},
        multi_label=True, hard=True, threshold=0.6,
    )  # fmt: skip
    assert [multi.cats[k] for k in LABELS] == [1, 0, 0, 1]


@pytest.mark.parametrize("multi_label", [False, True])
def test_teacher_targets_resoften_logits_and_probs_alike(multi_label):
    rng = numpy.random.default_rng(0)
    z1, z2 = rng.normal(0, 2, 4), rng.normal(0, 2, 4)
    act = sigmoid if multi_label else softmax
    nlp = spacy.blank("en")
    with_logits = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS,
        probs={"a": act(z1).tolist(), "b": act(z2).tolist()},
        logits={"a": z1.tolist(), "b": z2.tolist()}, weights={"a": 0.4, "b": 0.6},
        multi_label=multi_label,
    )  # fmt: skip
    probs_only = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS,
        probs={"a": act(z1).tolist(), "b": act(z2).tolist()},
        weights={"a": 0.4, "b": 0.6}, multi_label=multi_label,
    )  # fmt: skip
    for T in (1.0, 2.0, 7.5):
        want = 0.4 * act(z1 / T) + 0.6 * act(z2 / T)
        numpy.testing.assert_allclose(
            teacher_targets(with_logits, LABELS, T), want, rtol=1e-10
        )
        numpy.testing.assert_allclose(
            teacher_targets(probs_only, LABELS, T), want, rtol=1e-7
        )
    # at T = 1 the targets are the cats
    numpy.testing.assert_allclose(
        teacher_targets(probs_only, LABELS, 1.0), [probs_only.cats[k] for k in LABELS]
    )
    # another label order is honoured
    order = LABELS[::-1]
    numpy.testing.assert_allclose(
        teacher_targets(with_logits, order, 2.0),
        teacher_targets(with_logits, LABELS, 2.0)[::-1],
    )


def test_soften_probs_handles_zero_and_one():
    numpy.testing.assert_allclose(
        soften_probs(numpy.array([0.0, 1.0, 0.5]), 3.0, multi_label=True),
        [0.0, 1.0, 0.5],
    )
    p = numpy.array([0.0, 0.2, 0.8])
    out = soften_probs(p, 2.0, multi_label=False)
    numpy.testing.assert_allclose(out, numpy.sqrt(p) / numpy.sqrt(p).sum())
    assert combined_probs(
        {"teachers": ["t"], "weights": [1], "labels": ["a", "b"],
         "probs": {"t": [0.0, 1.0]}, "multi_label": False}, 4.0,
    ).tolist() == [0.0, 1.0]  # fmt: skip


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"probs": {}}, "at least one teacher"),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "weights": {"u": 1.0}},
            "weights are given for",
        ),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "weights": {"t": -1.0}},
            "weights must be >= 0",
        ),
        ({"probs": {"t": [0.5, 0.5]}}, "2 probs for 4 labels"),
        ({"probs": {"t": [0.5, 0.6, 0, 0]}}, "summing to 1.1"),
        ({"probs": {"t": [1.5, -0.5, 0, 0]}}, r"outside \[0, 1\]"),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "logits": {"t": [math.inf, 0, 0, 0]}},
            "non-finite logits",
        ),
    ],
)
def test_bad_records_are_refused(kwargs, message):
    with pytest.raises(AnnotationError, match=message):
        mark_pseudo(
            spacy.blank("en").make_doc("x"), labels=LABELS, multi_label=False, **kwargs
        )
