"""The vector students: spacy-kd.VectorCNN.v1, spacy-kd.TfidfVectorCNN.v1 and the
LowerStaticVectorsEmbed.v1 they read static vectors with.

Gradients are checked against central finite differences, the logits against the
predictions, vectors and IDF against a reload bit for bit, and the shipped configs
through ``spacy train`` and a load where torch cannot be imported.
"""

import re
from collections import Counter

import numpy
import pytest
import spacy
from pseudo_corpus import REPO
from spacy.training import Example
from spacy.util import make_tempdir, registry
from student_data import gold_cats, labels_for, rows
from test_production import (
    TORCH_FREE,
    check_in_production,
    in_production,
    production_site,
    train_students,
)
from thinc.api import Adam, Config, set_dropout_rate
from thinc.types import Ragged

from spacy_kd.distillation import architectures
from spacy_kd.distillation.architectures import (
    build_tfidf_vector_cnn,
    build_vector_cnn,
    mean_max_pool,
    static_vectors,
)
from spacy_kd.distillation.logits import (
    SIGMOID_ACTIVATION,
    SOFTMAX_ACTIVATION,
    logits_forward,
    output_kind,
)
from spacy_kd.distillation.vectors import init_spacy_vectors, write_word2vec
from spacy_kd.teachers.tfidf import build_tfidf_ngrams, fit_tfidf_layers

TOK2VEC = """
[tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[tok2vec.embed]
@architectures = "spacy-kd.LowerStaticVectorsEmbed.v1"
width = 8
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [50, 20, 20, 20]
key_attr = "LOWER"

[tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 8
window_size = 1
maxout_pieces = 2
depth = 1
"""

MODELS = {
    "cnn": "spacy-kd.VectorCNN.v1",
    "tfidf_cnn": "spacy-kd.TfidfVectorCNN.v1",
    "tfidf_mean": "spacy-kd.TfidfMeanVectors.v1",
}
TFIDF = {
    "@architectures": "spacy-kd.TfidfNgrams.v2",
    "ngram_size": 1,
    "n_buckets": 65536,
}
TEXTS = [
    "The rocket reached ORBIT after a long delay",
    "my graphics card driver crashes on startup",
    "the goalie made forty saves last night zzzunseen",
    "",
]


@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory):
    """A spaCy vectors folder made as distill-vectors makes it (word2vec text, then
    spaCy's convert_vectors), with random rows for the fixture's lowercase words;
    "zzzunseen" has none."""
    tmp = tmp_path_factory.mktemp("vectors")
    nlp = spacy.blank("en")
    texts = [t for t, _ in rows()] + TEXTS
    words = sorted({t.lower_ for s in texts for t in nlp.make_doc(s)} - {"zzzunseen"})
    data = numpy.random.default_rng(0).normal(0, 1, (len(words), 6)).astype("f")
    write_word2vec(tmp / "vectors.txt", words, data)
    init_spacy_vectors(tmp / "vectors.txt", tmp / "spacy", "en")
    return tmp / "spacy"


def model_config(arch: str, exclusive: bool) -> dict:
    config = Config().from_str(TOK2VEC)
    model = {"@architectures": MODELS[arch], "exclusive_classes": exclusive}
    if arch != "tfidf_mean":
        model["tok2vec"] = config["tok2vec"]
    if arch in ("tfidf_cnn", "tfidf_mean"):
        model["tfidf"] = dict(TFIDF)
        model["length"] = 512
    return model


def build(arch, exclusive, vectors_dir, seed=0, nO=3):
    """The model, initialized on TEXTS with random weights and no dropout."""
    nlp = spacy.load(vectors_dir)
    docs = [nlp.make_doc(t) for t in TEXTS]
    model = registry.resolve({"model": model_config(arch, exclusive)})["model"]
    fit_tfidf_layers(model, docs)
    model.initialize(X=docs, Y=numpy.zeros((len(docs), nO), dtype="f"))
    rng = numpy.random.default_rng(seed)
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name) and name not in ("df", "n_docs"):
                param = node.get_param(name)
                node.set_param(name, rng.normal(0, 0.5, param.shape).astype("f"))
    set_dropout_rate(model, 0.0)
    return model, docs


def check_param_gradients(model, run, nodes, rng, n=8, eps=1e-3, tol=3e-3):
    """``run(is_train)`` -> (output, backprop). Backprop R, compare each node's
    gradient with a central finite difference of sum(R * output), at ``n``
    entries: half where the gradient is not zero (rows the docs use), half at
    random."""
    Y, backprop = run(True)
    R = rng.normal(0, 1, Y.shape).astype("f")
    for node in model.walk():
        for name in node.grad_names:
            node.set_grad(name, node.ops.alloc(node.get_grad(name).shape))
    backprop(R)
    for node, name in nodes:
        grad = node.get_grad(name).copy()
        param = node.get_param(name)
        used = numpy.flatnonzero(grad)
        assert used.size, (node.name, name)
        picked = rng.choice(used, size=min(n // 2, used.size), replace=False)
        picked = numpy.concatenate([picked, rng.choice(param.size, size=n - n // 2)])
        for i in picked:
            saved = param.flat[i]
            param.flat[i] = saved + eps
            up = float((R * run(False)[0]).sum(dtype="float64"))
            param.flat[i] = saved - eps
            down = float((R * run(False)[0]).sum(dtype="float64"))
            param.flat[i] = saved
            fd = (up - down) / (2 * eps)
            assert grad.flat[i] == pytest.approx(fd, abs=tol, rel=1e-2), (
                node.name,
                name,
                i,
            )


def named(model, name):
    return [node for node in model.walk() if node.name == name]


# --- the layers -------------------------------------------------------------------


def test_static_vectors_are_looked_up_by_lower_and_unseen_words_get_zeros(
    vectors_dir,
):
    nlp = spacy.load(vectors_dir)
    assert nlp.vocab.vectors.attr == spacy.attrs.ORTH  # spaCy dropped LOWER: see doc
    layer = static_vectors(4, key_attr="LOWER")
    doc = nlp.make_doc("Orbit orbit ORBIT zzzunseen")
    layer.initialize(X=[doc])
    Y, _ = layer([doc], is_train=False)
    assert Y.lengths.tolist() == [4]
    row = nlp.vocab.vectors[nlp.vocab.strings["orbit"]]
    want = row @ layer.get_param("W").T
    for i in range(3):
        numpy.testing.assert_allclose(Y.data[i], want, rtol=1e-5)
    assert not Y.data[3].any()
    with pytest.raises(ValueError, match="unknown token attribute"):
        static_vectors(4, key_attr="NOPE")


def test_static_vectors_need_a_vectors_table():
    layer = static_vectors(4)
    with pytest.raises(ValueError, match=r"\[initialize\] vectors"):
        layer.initialize(X=[spacy.blank("en").make_doc("no vectors here")])


def test_static_vectors_gradient_matches_finite_differences(vectors_dir):
    nlp = spacy.load(vectors_dir)
    docs = [nlp.make_doc(t) for t in TEXTS]
    layer = static_vectors(5)
    layer.initialize(X=docs)

    def run(is_train):
        Y, backprop = layer(docs, is_train=is_train)
        return Y.data, lambda dY: backprop(Ragged(dY, Y.lengths))

    rng = numpy.random.default_rng(0)
    check_param_gradients(layer, run, [(layer, "W")], rng, n=12)


def test_static_vectors_gathered_in_chunks_give_the_same_output_and_gradient(
    vectors_dir, monkeypatch
):
    """The rows are gathered VECTOR_CHUNK at a time (never all tokens' vectors at
    once): with chunks of 3 tokens, the output and W's gradient are those of one
    chunk, and the gradient still matches finite differences."""
    nlp = spacy.load(vectors_dir)
    docs = [nlp.make_doc(t) for t in TEXTS]
    layer = static_vectors(5)
    layer.initialize(X=docs)
    assert sum(len(d) for d in docs) > 3 * 3
    results = []
    for chunk in (10**6, 3):
        monkeypatch.setattr(architectures, "VECTOR_CHUNK", chunk)
        Y, backprop = layer(docs, is_train=True)
        dY = numpy.random.default_rng(1).normal(size=Y.data.shape).astype("float32")
        layer.set_grad("W", numpy.zeros_like(layer.get_param("W")))
        backprop(Ragged(dY, Y.lengths))
        results.append((Y.data.copy(), layer.get_grad("W").copy()))
    (y1, g1), (y3, g3) = results
    numpy.testing.assert_allclose(y3, y1, rtol=1e-6, atol=1e-6)
    numpy.testing.assert_allclose(g3, g1, rtol=1e-5, atol=1e-5)
    assert numpy.abs(g1).sum() > 0

    def run(is_train):
        Y, backprop = layer(docs, is_train=is_train)
        return Y.data, lambda dY: backprop(Ragged(dY, Y.lengths))

    check_param_gradients(layer, run, [(layer, "W")], numpy.random.default_rng(0), n=12)


def test_mean_max_pool_matches_numpy_and_pools_an_empty_doc_to_zeros():
    rng = numpy.random.default_rng(0)
    lengths = numpy.asarray([3, 0, 1, 2], dtype="int32")
    X = rng.normal(0, 1, (6, 4)).astype("f")
    pool = mean_max_pool()
    Y, backprop = pool(Ragged(X, lengths), is_train=True)
    starts = numpy.concatenate([[0], numpy.cumsum(lengths)[:-1]])
    for i, (start, n) in enumerate(zip(starts, lengths)):
        part = X[start : start + n]
        want = numpy.concatenate([part.mean(0), part.max(0)]) if n else numpy.zeros(8)
        numpy.testing.assert_allclose(Y[i], want, rtol=1e-6)
    # the input gradient, by finite differences of sum(R * Y)
    R = rng.normal(0, 1, Y.shape).astype("f")
    dX = backprop(R).data
    eps = 1e-3
    for i in range(X.size):
        moved = [X.copy(), X.copy()]
        moved[0].flat[i] += eps
        moved[1].flat[i] -= eps
        up, down = (
            float((R * pool.predict(Ragged(m, lengths))).sum(dtype="float64"))
            for m in moved
        )
        assert dX.flat[i] == pytest.approx((up - down) / (2 * eps), abs=1e-3)


def test_tfidf_vector_cnn_refuses_a_v1_tfidf_layer():
    tok2vec = registry.resolve(Config().from_str(TOK2VEC))["tok2vec"]
    with pytest.raises(ValueError, match="TfidfVectorCNN needs a spacy-kd"):
        build_tfidf_vector_cnn(tok2vec, tfidf=build_tfidf_ngrams())
    assert build_vector_cnn(tok2vec, exclusive_classes=False).attrs["multi_label"]


# --- the models -------------------------------------------------------------------


@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("arch", list(MODELS))
def test_model_gradients_match_finite_differences(arch, exclusive, vectors_dir):
    """Through the whole model (activation included), for the output layers, the
    static vectors' projection and a hash embedding table."""
    model, docs = build(arch, exclusive, vectors_dir)
    nodes = [(n, "W") for n in named(model, "static_vectors_by_attr")]
    nodes += [(n, "W") for n in named(model, "linear")]
    if arch != "tfidf_mean":
        nodes += [(named(model, "hashembed")[0], "E")]
    if arch in ("tfidf_cnn", "tfidf_mean"):
        nodes += [(model.get_ref("tfidf_output"), "W")]
        nodes += [(model.get_ref("tfidf_output"), "b")]

    def run(is_train):
        return model(docs, is_train=is_train)

    check_param_gradients(model, run, nodes, numpy.random.default_rng(1))


@pytest.mark.parametrize("exclusive", [True, False])
@pytest.mark.parametrize("arch", list(MODELS))
def test_logits_path_gives_the_predictions(arch, exclusive, vectors_dir):
    """logits_forward finds the activation; its logits, as log-probabilities,
    are the logs of the predictions, and its backprop is the model's up to the
    logits."""
    model, docs = build(arch, exclusive, vectors_dir, seed=2)
    kind = SOFTMAX_ACTIVATION if exclusive else SIGMOID_ACTIVATION
    assert output_kind(model) == kind
    logits, _ = logits_forward(model, docs, is_train=False)
    z = numpy.asarray(logits, dtype="float64")
    probs = numpy.asarray(model.predict(docs), dtype="float64")
    if exclusive:
        log_probs = z - numpy.log(numpy.exp(z).sum(axis=1, keepdims=True))
        numpy.testing.assert_allclose(numpy.log(probs), log_probs, atol=1e-5)
    else:
        numpy.testing.assert_allclose(probs, 1 / (1 + numpy.exp(-z)), atol=1e-6)
    # d sum(R * logits) / d W of a linear layer, through the logits path
    linear = (named(model, "linear") or named(model, "static_vectors_by_attr"))[0]

    def run(is_train):
        return logits_forward(model, docs, is_train)

    check_param_gradients(model, run, [(linear, "W")], numpy.random.default_rng(3))


# --- in a pipeline ----------------------------------------------------------------


def student(arch, multi_label, vectors_dir):
    nlp = spacy.load(vectors_dir)
    factory = "kd_textcat_multilabel" if multi_label else "kd_textcat"
    model = model_config(arch, not multi_label)
    nlp.add_pipe(factory, name="textcat", config={"model": model})
    examples = []
    for text, label in rows():
        ref = nlp.make_doc(text)
        ref.cats = gold_cats(label, multi_label)
        examples.append(Example(nlp.make_doc(text), ref))
    return nlp, examples


@pytest.mark.parametrize(
    "arch,multi_label", [("cnn", False), ("tfidf_cnn", True), ("tfidf_mean", False)]
)
def test_student_trains_and_round_trips_vectors_and_idf(arch, multi_label, vectors_dir):
    nlp, examples = student(arch, multi_label, vectors_dir)
    nlp.initialize(lambda: examples)
    textcat = nlp.get_pipe("textcat")
    if arch != "cnn":  # the nested TF-IDF layer was fitted at initialize
        tfidf = textcat.model.get_ref("tfidf")
        assert float(tfidf.get_param("n_docs")[0]) == len(examples)
    optimizer = Adam(0.02)
    losses = []
    for _ in range(20):
        loss = {}
        nlp.update(examples, sgd=optimizer, losses=loss)
        losses.append(loss["textcat"])
    assert losses[-1] < losses[0] / 2, losses
    texts = [text for text, _ in rows()[:8]] + ["ZZZUNSEEN words"]
    before = [doc.cats for doc in nlp.pipe(texts)]
    # an empty doc in a batch pools to zeros (spaCy's textcat gives a batch of
    # empty docs zeros without running the model, so nlp("") differs: stock)
    with_empty = [doc.cats for doc in nlp.pipe(texts[:2] + [""])]
    assert with_empty[:2] == before[:2] and set(with_empty[2]) == set(before[0])
    assert set(before[0]) == set(labels_for(multi_label))
    vectors = nlp.vocab.vectors
    with make_tempdir() as tmp:
        nlp.to_disk(tmp)
        loaded = spacy.load(tmp)
        again = loaded.vocab.vectors
        assert again.data.tobytes() == vectors.data.tobytes()
        assert again.key2row == vectors.key2row
        if arch != "cnn":
            idf = loaded.get_pipe("textcat").model.get_ref("tfidf")
            for name in ("df", "n_docs"):
                assert idf.get_param(name).tobytes() == tfidf.get_param(name).tobytes()
        assert [loaded(t).cats for t in texts] == before
        assert [d.cats for d in loaded.pipe(texts)] == before


def test_shipped_configs_name_the_vectors_and_tune_one_optimizer():
    for name in ("student_vectors_cnn", "student_tfidf_vectors_cnn"):
        config = Config().from_disk(REPO / "configs" / f"{name}.cfg", interpolate=False)
        assert config["paths"]["vectors"] is None
        assert config["initialize"]["vectors"] == "${paths.vectors}"
        embed = config["components"]["textcat"]["model"]["tok2vec"]["embed"]
        assert embed["@architectures"] == "spacy-kd.LowerStaticVectorsEmbed.v1"
        assert embed["key_attr"] == "LOWER"
    config = Config().from_disk(
        REPO / "configs" / "student_tfidf_mean_vectors.cfg", interpolate=False
    )
    assert config["initialize"]["vectors"] == "${paths.vectors}"
    assert config["components"]["textcat"]["model"]["key_attr"] == "LOWER"


# --- the shipped configs, end to end ----------------------------------------------

VECTOR_CONFIGS = {
    "student_vectors_cnn.cfg": "spacy-kd.VectorCNN.v1",
    "student_tfidf_vectors_cnn.cfg": "spacy-kd.TfidfVectorCNN.v1",
    "student_tfidf_mean_vectors.cfg": "spacy-kd.TfidfMeanVectors.v1",
}


@pytest.fixture(scope="module")
def vector_students(vectors_dir, tmp_path_factory):
    """The three vector configs trained by ``python -m spacy train CONFIG
    --paths.vectors DIR`` (one fresh interpreter for the three: see TRAIN), and the
    students that trained loaded in ONE interpreter where torch, transformers and
    spacy-transformers cannot be imported: (config -> run, model -> what it found)."""
    tmp = tmp_path_factory.mktemp("vector-students")
    runs = train_students(
        tmp, list(VECTOR_CONFIGS), "--paths.vectors", str(vectors_dir)
    )
    models = [run.model for run in runs.values() if run.returncode == 0]
    paths = f"{production_site(tmp, TORCH_FREE)}|{REPO}"
    return runs, in_production(tmp, models, TORCH_FREE, paths) if models else {}


@pytest.mark.parametrize("config,arch", list(VECTOR_CONFIGS.items()))
def test_vector_student_trains_and_loads_without_torch(
    config, arch, vectors_dir, vector_students
):
    """``python -m spacy train configs/CONFIG --paths.vectors DIR`` on tiny gold +
    pseudo data; the saved student holds the vectors and predicts where torch,
    transformers and spacy-transformers cannot be imported."""
    runs, production = vector_students
    run = runs[config]
    assert run.returncode == 0, run.output
    assert re.search(r"LOSS TEXTCAT\s+LOSS GOLD\s+LOSS DISTILL", run.output)
    text = (run.model / "config.cfg").read_text(encoding="utf-8")
    assert 'factory = "textcat"' in text and arch in text
    nlp = spacy.load(run.model)
    saved = nlp.vocab.vectors
    assert saved.data.tobytes() == spacy.load(vectors_dir).vocab.vectors.data.tobytes()
    check_in_production(run.model, TORCH_FREE, production[run.model], nlp)


def test_vectors_cover_the_fixture_words(vectors_dir):
    """The fixture's vectors hold every lowercase word but the unseen one."""
    nlp = spacy.load(vectors_dir)
    words = Counter(t.lower_ for t in nlp.make_doc(TEXTS[2]))
    found = {w: nlp.vocab.vectors.find(key=w) >= 0 for w in words}
    assert found.pop("zzzunseen") is False and all(found.values())
