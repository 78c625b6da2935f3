"""``kd_label_thresholds``: per-label thresholds shipped in a pipeline."""

import math

import pytest
import spacy
from hypothesis import given
from hypothesis import strategies as st
from spacy.tokens import Doc

from spacy_kd.distillation.thresholds import (
    check_thresholds,
    rescale,
    saved_thresholds,
    set_pipeline_thresholds,
    threshold_components,
)

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(score=unit, threshold=unit)
def test_rescale_decides_as_the_threshold_and_stays_in_0_1(score, threshold):
    value = rescale(score, threshold)
    assert 0.0 <= value <= 1.0
    assert (value >= 0.5) is (score >= threshold)


@given(a=unit, b=unit, threshold=unit)
def test_rescale_keeps_the_order_of_scores(a, b, threshold):
    lo, hi = sorted((a, b))
    assert rescale(lo, threshold) <= rescale(hi, threshold)


def test_rescale_by_hand():
    assert rescale(0.1, 0.2) == pytest.approx(0.25)
    assert rescale(0.2, 0.2) == 0.5
    assert rescale(0.6, 0.2) == pytest.approx(0.75)
    assert rescale(1.0, 0.2) == 1.0
    assert rescale(0.0, 0.0) == 0.5  # threshold 0: every score is a yes
    assert rescale(0.999, 1.0) < 0.5 and rescale(1.0, 1.0) == 1.0
    below = math.nextafter(0.3, 0.0)  # the float just under the threshold
    assert rescale(below, 0.3) < 0.5


@pytest.mark.parametrize(
    "bad,problem",
    [({"a": 1.5}, "expected 0 to 1"), ({"a": float("nan")}, "expected 0 to 1"),
     ({"a": True}, "expected 0 to 1"), ({"": 0.3}, "non-empty string")],
)  # fmt: skip
def test_bad_thresholds_are_refused(bad, problem):
    with pytest.raises(ValueError, match=problem):
        check_thresholds(bad)


def _nlp_with_cats():
    nlp = spacy.blank("en")

    @spacy.Language.component("fixed_cats_for_thresholds_test")
    def fixed_cats(doc: Doc) -> Doc:
        doc.cats = {"a": 0.3, "b": 0.3, "c": 0.9}
        return doc

    nlp.add_pipe("fixed_cats_for_thresholds_test", name="cats")
    return nlp


def test_component_applies_its_thresholds_and_round_trips(tmp_path):
    nlp = _nlp_with_cats()
    assert saved_thresholds(nlp) is None
    set_pipeline_thresholds(nlp, {"a": 0.2, "b": 0.4}, after="cats")
    set_pipeline_thresholds(nlp, {"a": 0.25, "b": 0.4}, after="cats")  # updated
    assert threshold_components(nlp) == ["label_thresholds"]
    doc = nlp("some text")
    assert doc.cats["a"] >= 0.5 and doc.cats["b"] < 0.5  # 0.3 against 0.25 / 0.4
    assert doc.cats["c"] == 0.9  # no threshold: left alone
    nlp.to_disk(tmp_path / "p")
    assert (tmp_path / "p" / "label_thresholds" / "thresholds.json").exists()
    loaded = spacy.load(tmp_path / "p")
    assert loaded.pipe_names == ["cats", "label_thresholds"]
    assert saved_thresholds(loaded) == {"a": 0.25, "b": 0.4}
    assert loaded("some text").cats == doc.cats
    assert [d.cats for d in loaded.pipe(["x", "y"])] == [doc.cats, doc.cats]
    pipe = spacy.blank("en").add_pipe("kd_label_thresholds")
    pipe.from_bytes(loaded.get_pipe("label_thresholds").to_bytes())
    assert pipe.thresholds == {"a": 0.25, "b": 0.4}
