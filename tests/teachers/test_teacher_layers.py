"""TF-IDF n-grams, the frozen feature cache and the teacher classifier head."""

import math
from collections import Counter
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam, Linear, Model, chain

from spacy_kd.data import convert
from spacy_kd.teachers.architectures import build_teacher_classifier
from spacy_kd.teachers.frozen import build_frozen_cached, cache_of
from spacy_kd.teachers.tfidf import build_tfidf_ngrams

DATA = Path(__file__).parent.parent / "fixtures"
TEXTS = ["the cat sat on the mat", "the dog ate the cat food", "a bird", ""]


def make_docs(texts):
    nlp = spacy.blank("en")
    return [nlp.make_doc(t) for t in texts]


def test_tfidf_values_match_a_float64_reference():
    docs = make_docs(TEXTS)
    model = build_tfidf_ngrams(ngram_size=1, n_buckets=2**20)
    model.initialize()
    model.begin_update(docs)  # training counts the document frequencies
    keys, values, lengths = model.predict(docs)
    assert lengths.tolist() == [5, 5, 2, 0]
    df = Counter(w for t in TEXTS for w in set(t.split()))
    n = len(TEXTS)
    offset = 0
    for doc, length in zip(docs, lengths):
        tf = Counter(t.lower_ for t in doc)
        ref = {
            w: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[w])) + 1)
            for w, c in tf.items()
        }
        norm = math.sqrt(sum(v * v for v in ref.values()))
        got = dict(
            zip(
                keys[offset : offset + length].tolist(),
                values[offset : offset + length],
            )
        )
        expected = {doc.vocab.strings[w]: v / norm for w, v in ref.items()}
        assert set(got) == set(expected)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, rel=1e-6)
        offset += length


def test_tfidf_counts_online_once_per_text_and_serialises():
    docs = make_docs(TEXTS[:2])
    model = build_tfidf_ngrams(ngram_size=2, n_buckets=1024)
    model.initialize()
    model.begin_update(docs)
    model.begin_update(docs)  # a second epoch adds nothing
    assert model.get_param("n_docs")[0] == 2
    model.predict(make_docs(["unseen text at prediction"]))
    assert model.get_param("n_docs")[0] == 2
    copy = build_tfidf_ngrams(ngram_size=2, n_buckets=1024).from_bytes(model.to_bytes())
    for a, b in zip(model.predict(docs), copy.predict(docs)):
        numpy.testing.assert_array_equal(a, b)


def counting_encoder(width=3):
    """A real thinc layer that embeds a doc by its length, counting the docs it sees."""

    def forward(model, docs, is_train):
        model.attrs["calls"] += len(docs)
        out = model.ops.asarray2f([[len(d)] * width for d in docs])
        return out, lambda dY: []

    return Model("counting", forward, attrs={"calls": 0}, dims={"nO": width})


def test_frozen_cache_encodes_each_text_once_and_stops_gradients():
    encoder = counting_encoder()
    model = chain(build_frozen_cached(encoder), Linear(nO=2))
    docs = make_docs(TEXTS[:3] + [TEXTS[0]])
    model.initialize(X=docs[:1], Y=model.ops.alloc2f(1, 2))
    calls = encoder.attrs["calls"]
    # a model that is not being trained (a loaded pipeline predicting) caches nothing
    before = model.predict(docs)
    assert encoder.attrs["calls"] - calls == 4
    assert len(cache_of(model.layers[0])) == 0
    # training switches the cache on: 3 distinct texts, 1 repeated
    calls = encoder.attrs["calls"]
    Y, backprop = model.begin_update(docs)
    backprop(model.ops.alloc2f(4, 2) + 1.0)
    assert encoder.attrs["calls"] - calls == 3
    after = model.predict(docs)  # a dev evaluation during training: all cached
    assert encoder.attrs["calls"] - calls == 3
    numpy.testing.assert_array_equal(before, Y)
    numpy.testing.assert_array_equal(after, Y)
    assert len(cache_of(model.layers[0])) == 3


def test_a_saved_and_loaded_model_does_not_cache():
    """Training switches the cache on in this process only: it is not saved."""
    encoder = counting_encoder()
    model = chain(build_frozen_cached(encoder), Linear(nO=2))
    docs = make_docs(TEXTS[:3])
    model.initialize(X=docs[:1], Y=model.ops.alloc2f(1, 2))
    model.begin_update(docs)
    assert len(cache_of(model.layers[0])) == 3
    loaded = chain(build_frozen_cached(counting_encoder()), Linear(nO=2))
    loaded.initialize(X=docs[:1], Y=loaded.ops.alloc2f(1, 2))
    loaded.from_bytes(model.to_bytes())
    calls = loaded.layers[0].layers[0].attrs["calls"]
    for _ in range(2):
        numpy.testing.assert_allclose(loaded.predict(docs), model.predict(docs))
    assert loaded.layers[0].layers[0].attrs["calls"] - calls == 6
    assert len(cache_of(loaded.layers[0])) == 0


def test_max_entries_0_encodes_every_doc_and_keeps_nothing():
    encoder = counting_encoder()
    model = chain(build_frozen_cached(encoder, max_entries=0), Linear(nO=2))
    docs = make_docs(TEXTS[:3] + [TEXTS[0]])
    model.initialize(X=docs[:1], Y=model.ops.alloc2f(1, 2))
    calls = encoder.attrs["calls"]
    trained, _ = model.begin_update(docs)
    for _ in range(2):
        numpy.testing.assert_array_equal(model.predict(docs), trained)
    assert encoder.attrs["calls"] - calls == 12  # every doc, every time
    assert len(cache_of(model.layers[0])) == 0
    assert len(cache_of(model.layers[0])) == 0


def _fixture_examples(nlp, tmp_path):
    convert(DATA / "20ng_train.jsonl", tmp_path / "train.spacy")
    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))
    return [Example(nlp.make_doc(d.text), d) for d in docs]


@pytest.mark.parametrize("factory", ["textcat", "kd_textcat"])
def test_teacher_head_learns_and_round_trips(tmp_path, factory):
    import spacy_kd.distillation.student  # noqa: F401  (registers kd_textcat in this process)

    nlp = spacy.blank("en")
    config = {
        "model": {
            "@architectures": "spacy-kd.TeacherClassifier.v1",
            "tfidf": {
                "@architectures": "spacy-kd.TfidfNgrams.v1",
                "ngram_size": 2,
                "n_buckets": 2**16,
            },
            "exclusive_classes": True,
            "sparse_length": 2**16,
        }
    }
    if factory == "kd_textcat":
        config["alpha"] = 1.0
    nlp.add_pipe(factory, name="textcat", config=config)
    examples = _fixture_examples(nlp, tmp_path)
    nlp.initialize(lambda: examples)
    optimizer = Adam(learn_rate=0.05)  # TF-IDF features are L2-normalised: small inputs
    losses = []
    for _ in range(15):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step["textcat"])
    texts = [eg.reference.text for eg in examples]
    gold = [max(eg.reference.cats, key=eg.reference.cats.get) for eg in examples]
    predicted = [max(d.cats, key=d.cats.get) for d in nlp.pipe(texts)]
    accuracy = sum(p == g for p, g in zip(predicted, gold)) / len(gold)
    if factory == "kd_textcat":  # cross-entropy: learns the training set quickly
        assert losses[-1] < losses[0] * 0.5
        assert accuracy > 0.9
    else:  # the stock squared error through a softmax learns, but slowly
        assert losses[-1] < losses[0]
        assert accuracy > 0.3
    nlp.to_disk(tmp_path / "teacher")
    loaded = spacy.load(tmp_path / "teacher")
    for a, b in zip(nlp.pipe(texts[:20]), loaded.pipe(texts[:20])):
        assert a.cats == pytest.approx(b.cats, abs=1e-6)
    assert [d.cats for d in loaded.pipe(texts[:5])] == [
        loaded(t).cats for t in texts[:5]
    ]


def test_teacher_needs_some_evidence():
    with pytest.raises(ValueError, match="needs features, tfidf or both"):
        build_teacher_classifier()


def test_scalar_mix_matches_float64_reference_and_gradients():
    from spacy_kd.teachers.pooled import build_scalar_mix

    rng = numpy.random.default_rng(0)
    X = rng.normal(size=(4, 3 * 5)).astype("float32")
    model = build_scalar_mix(3)
    model.initialize(X=X)
    s = numpy.asarray([0.3, -1.0, 0.5], dtype="float32")
    model.set_param("s", s.copy())
    model.set_param("gamma", numpy.asarray([1.7], dtype="float32"))

    def reference(X64, s64, g64):
        w = numpy.exp(s64) / numpy.exp(s64).sum()
        return g64 * (X64.reshape(4, 3, 5) * w[None, :, None]).sum(axis=1)

    Y, backprop = model.begin_update(X)
    numpy.testing.assert_allclose(
        Y, reference(X.astype("f8"), s.astype("f8"), 1.7), rtol=1e-5
    )
    dY = rng.normal(size=Y.shape)
    dX = backprop(dY.astype("float32"))
    # numerical gradients of sum(Y * dY) in float64
    eps = 1e-6
    loss = lambda X64, s64, g64: float((reference(X64, s64, g64) * dY).sum())  # noqa: E731
    num_s = [
        (
            loss(X.astype("f8"), s + eps * e, 1.7)
            - loss(X.astype("f8"), s - eps * e, 1.7)
        )
        / (2 * eps)
        for e in numpy.eye(3)
    ]
    numpy.testing.assert_allclose(model.get_grad("s"), num_s, rtol=1e-4, atol=1e-5)
    num_g = (
        loss(X.astype("f8"), s, 1.7 + eps) - loss(X.astype("f8"), s, 1.7 - eps)
    ) / (2 * eps)
    assert model.get_grad("gamma")[0] == pytest.approx(num_g, rel=1e-4)
    e = numpy.zeros(X.shape)
    e[1, 7] = 1.0
    num_x = (loss(X + eps * e, s, 1.7) - loss(X - eps * e, s, 1.7)) / (2 * eps)
    assert dX[1, 7] == pytest.approx(num_x, rel=1e-4)


def test_frozen_pooled_tok2vec_normalises_each_layer_then_mixes():
    from spacy_kd.teachers.pooled import build_frozen_pooled_tok2vec

    def forward(model, docs, is_train):
        # token i of a doc gets [i+1, 1, 2*(i+1), 0, 3, 4]: two layers of width 3
        out = [
            model.ops.asarray2f(
                [[i + 1, 1, 2 * (i + 1), 0, 3, 4] for i in range(len(d))]
            )
            for d in docs
        ]
        return out, lambda dY: []

    tok2vec = Model("toy_tok2vec", forward)
    model = build_frozen_pooled_tok2vec(tok2vec, mix_layers=2, normalize=True)
    docs = make_docs(["a b c", "x"])
    model.initialize(X=docs)
    Y = model.predict(docs)
    # mean of tokens 1..3: layer 0 = [2, 1, 4] / |.|, layer 1 = [0, 3, 4] / 5; equal mix
    layer0 = numpy.asarray([2.0, 1.0, 4.0]) / math.sqrt(21.0)
    layer1 = numpy.asarray([0.0, 0.6, 0.8])
    numpy.testing.assert_allclose(Y[0], 0.5 * layer0 + 0.5 * layer1, rtol=1e-6)
    assert Y.shape == (2, 3)
