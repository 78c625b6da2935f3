"""Student architectures: spacy-kd.TfidfLinear.v1 and the TfidfNgrams.v2 it reads.

Features are checked against an independent float64 computation, gradients against
finite differences, and the fitted IDF against a reload bit for bit.
"""

import math
from collections import Counter

import numpy
import pytest
import spacy
from spacy.training import Example
from spacy.util import make_tempdir
from student_data import GROUPS, gold_cats, labels_for, rows
from thinc.api import Adam, Config

from spacy_kd.distillation.architectures import build_tfidf_linear
from spacy_kd.distillation.logits import (
    SIGMOID_ACTIVATION,
    SOFTMAX_ACTIVATION,
    output_kind,
)
from spacy_kd.teachers.tfidf import (
    build_tfidf_ngrams,
    build_tfidf_ngrams_v2,
    fit_tfidf_layers,
    is_fitted,
)

TFIDF_LINEAR = """
[model]
@architectures = "spacy-kd.TfidfLinear.v1"
exclusive_classes = {exclusive}
length = 4096

[model.tfidf]
@architectures = "spacy-kd.TfidfNgrams.v2"
ngram_size = 1
n_buckets = 65536
attr = "LOWER"
sublinear_tf = true
"""


def tfidf_nlp(multi_label: bool):
    nlp = spacy.blank("en")
    factory = "kd_textcat_multilabel" if multi_label else "kd_textcat"
    exclusive = str(not multi_label).lower()
    model = Config().from_str(TFIDF_LINEAR.format(exclusive=exclusive))["model"]
    nlp.add_pipe(factory, name="textcat", config={"model": model})
    return nlp


def gold_examples(nlp, multi_label: bool):
    examples = []
    for text, label in rows():
        ref = nlp.make_doc(text)
        ref.cats = gold_cats(label, multi_label)
        examples.append(Example(nlp.make_doc(text), ref))
    return examples


def reference_tfidf(train_texts, text):
    """TF-IDF of ``text``'s lowercased unigrams in float64, with document
    frequencies counted on ``train_texts``; unseen words dropped; L2-normalised."""
    nlp = spacy.blank("en")
    docs = [{t.lower_ for t in nlp.make_doc(s)} for s in train_texts]
    n = len(docs)
    df = Counter(w for words in docs for w in words)
    counts = Counter(t.lower_ for t in nlp.make_doc(text))
    vals = {
        w: (1.0 + math.log(c)) * (math.log((1.0 + n) / (1.0 + df[w])) + 1.0)
        for w, c in counts.items()
        if df[w] > 0
    }
    norm = math.sqrt(sum(v * v for v in vals.values()))
    return {w: v / norm for w, v in vals.items()}


def test_tfidf_v2_matches_a_float64_reference_and_drops_unseen_words():
    nlp = spacy.blank("en")
    train = [text for text, _ in rows()[:20]]
    layer = build_tfidf_ngrams_v2(ngram_size=1, n_buckets=2**22)
    layer.initialize()
    assert not is_fitted(layer)
    assert fit_tfidf_layers(layer, [nlp.make_doc(t) for t in train]) == len(train)
    assert is_fitted(layer)
    text = rows()[25][0] + " zzzunseenword"
    (keys, vals, lengths), _ = layer(([nlp.make_doc(text)]), is_train=False)
    want = reference_tfidf(train, text)
    assert lengths.tolist() == [len(want)]  # the unseen words are gone
    lower = nlp.vocab.strings
    got = {int(k): float(v) for k, v in zip(keys, vals)}
    for word, value in want.items():
        assert got[lower[word]] == pytest.approx(value, rel=1e-5)


def test_tfidf_v2_counts_every_doc_and_nothing_while_training():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("the cat"), nlp.make_doc("the cat"), nlp.make_doc("a dog")]
    layer = build_tfidf_ngrams_v2(n_buckets=2**20)
    fit_tfidf_layers(layer, docs)
    df = layer.get_param("df").copy()
    assert float(layer.get_param("n_docs")[0]) == 3.0
    cat = nlp.vocab.strings["cat"] % 2**20
    assert df[cat] == 2.0  # duplicates count, as in scikit-learn
    layer(docs + [nlp.make_doc("new words here")], is_train=True)
    assert numpy.array_equal(layer.get_param("df"), df)


def test_training_an_unfitted_tfidf_v2_layer_is_a_clear_error():
    nlp = spacy.blank("en")
    layer = build_tfidf_ngrams_v2()
    layer.initialize()
    with pytest.raises(ValueError, match="fitted when a kd_textcat"):
        layer([nlp.make_doc("some text")], is_train=True)


def test_tfidf_linear_refuses_a_v1_layer():
    with pytest.raises(ValueError, match="TfidfNgrams.v2"):
        build_tfidf_linear(tfidf=build_tfidf_ngrams())


@pytest.mark.parametrize("multi_label", [False, True])
def test_tfidf_linear_gradient_matches_finite_differences(multi_label):
    """d(sum(R * probs)) / dW of the sparse layer, from backprop and numerically."""
    nlp = spacy.blank("en")
    texts = [text for text, _ in rows()[:8]]
    docs = [nlp.make_doc(t) for t in texts]
    model = build_tfidf_linear(exclusive_classes=not multi_label, length=64, nO=3)
    model.initialize()
    fit_tfidf_layers(model, docs)
    linear = model.get_ref("output_layer")
    rng = numpy.random.default_rng(0)
    linear.set_param("W", rng.normal(0, 0.5, linear.get_param("W").shape).astype("f"))
    R = rng.normal(0, 1, (len(docs), 3)).astype("f")
    probs, backprop = model(docs, is_train=True)
    backprop(R)
    grad = linear.get_grad("W").copy()
    W = linear.get_param("W")
    for i in rng.choice(W.size, size=12, replace=False):
        eps = 1e-2
        saved = W.flat[i]
        W.flat[i] = saved + eps
        up = float((R * model.predict(docs)).sum())
        W.flat[i] = saved - eps
        down = float((R * model.predict(docs)).sum())
        W.flat[i] = saved
        assert grad.flat[i] == pytest.approx((up - down) / (2 * eps), abs=2e-3)


@pytest.mark.parametrize("multi_label", [False, True])
def test_tfidf_student_trains_and_round_trips(multi_label):
    nlp = tfidf_nlp(multi_label)
    examples = gold_examples(nlp, multi_label)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.05)
    textcat = nlp.get_pipe("textcat")
    tfidf = textcat.model.get_ref("tfidf")
    assert float(tfidf.get_param("n_docs")[0]) == len(examples)  # every doc counted
    kind = SIGMOID_ACTIVATION if multi_label else SOFTMAX_ACTIVATION
    assert output_kind(textcat.model) == kind
    losses = []
    for _ in range(15):
        loss = {}
        nlp.update(examples, sgd=optimizer, losses=loss)
        losses.append(loss["textcat"])
    assert losses[-1] < losses[0] / 2, losses
    texts = [text for text, _ in rows()[:8]]
    before = [doc.cats for doc in nlp.pipe(texts)]
    right = sum(max(c, key=c.get) == label for c, (_, label) in zip(before, rows()))
    assert right >= 6
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        loaded = spacy.load(tmp)
        again = loaded.get_pipe("textcat").model.get_ref("tfidf")
        for name in ("df", "n_docs"):
            assert again.get_param(name).tobytes() == tfidf.get_param(name).tobytes()
        assert [loaded(t).cats for t in texts] == before
        assert [d.cats for d in loaded.pipe(texts)] == before
    nlp2 = tfidf_nlp(multi_label)
    nlp2.from_bytes(nlp.to_bytes())
    assert [d.cats for d in nlp2.pipe(texts)] == before
    assert set(labels_for(multi_label)) == set(before[0])
    assert GROUPS[0] in before[0]
