"""spacy-kd.strided_spans.v1: spacy-transformers' strided spans with a cap per doc."""

import pytest
import spacy

from spacy_kd.teachers.spans import configure_capped_strided_spans

spacy_transformers = pytest.importorskip("spacy_transformers")


def docs():
    nlp = spacy.blank("en")
    return [nlp.make_doc(" ".join(f"w{i}" for i in range(n))) for n in (0, 5, 30, 95)]


def bounds(spans):
    return [[(s.start, s.end) for s in doc_spans] for doc_spans in spans]


def test_uncapped_equals_spacy_transformers_and_cap_keeps_the_first_windows():
    from spacy.util import registry

    stock = registry.span_getters.get("spacy-transformers.strided_spans.v1")(
        window=20, stride=16
    )
    ours = registry.span_getters.get("spacy-kd.strided_spans.v1")
    assert bounds(ours(window=20, stride=16)(docs())) == bounds(stock(docs()))
    capped = bounds(ours(window=20, stride=16, max_spans=2)(docs()))
    full = bounds(stock(docs()))
    assert capped == [doc_spans[:2] for doc_spans in full]
    assert [len(s) for s in full] == [0, 1, 2, 6] and [len(s) for s in capped] == [
        0,
        1,
        2,
        2,
    ]


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"window": 0, "stride": 1}, "must be >= 1"),
        ({"window": 10, "stride": 12}, "would skip tokens"),
        ({"window": 10, "stride": 8, "max_spans": -1}, "max_spans must be >= 0"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        configure_capped_strided_spans(**kwargs)
