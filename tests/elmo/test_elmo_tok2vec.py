"""``spacy-kd.ElmoTok2Vec.v1`` inside stock spaCy components."""

import shutil

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from spacy.util import make_tempdir
from thinc.api import Adam, fix_random_seed

from spacy_kd.elmo.file_format import load_bilm_dir, save_bilm
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.embedder import embed_docs
from spacy_kd.elmo.tok2vec import build_elmo_tok2vec, get_elmo_module
from spacy_kd.errors import DataError

TRAIN = [
    ("i love this great film", "POS"),
    ("what a wonderful happy day", "POS"),
    ("great acting and a lovely story", "POS"),
    ("terrible awful boring movie", "NEG"),
    ("i hate this bad thing", "NEG"),
    ("the worst plot and dreadful acting", "NEG"),
]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    fix_random_seed(0)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def elmo_dir(tmp_path_factory):
    torch.manual_seed(1)
    options = ElmoOptions(
        filters=[(1, 8), (2, 8), (3, 16)],
        projection_dim=8,
        cell_dim=16,
        n_layers=2,
        n_highway=1,
    )
    bilm = ElmoBiLm(options)
    with torch.no_grad():  # random weights large enough for distinct features
        for param in bilm.parameters():
            param.normal_(0.0, 0.5)
        bilm.token_embedder.char_embedding.weight[0].zero_()
    path = tmp_path_factory.mktemp("elmo")
    save_bilm(bilm, path)
    return path


def tok2vec_cfg(elmo_dir, **kwargs):
    cfg = {
        "@architectures": "spacy-kd.ElmoTok2Vec.v1",
        "options_path": str(elmo_dir / "options.json"),
        "weights_path": str(elmo_dir / "weights.hdf5"),
    }
    cfg.update(kwargs)
    return cfg


def textcat_nlp(elmo_dir, pipe="textcat", **kwargs):
    nlp = spacy.blank("en")
    model = {
        "@architectures": "spacy.TextCatReduce.v1",
        "exclusive_classes": pipe == "textcat",
        "use_reduce_first": False,
        "use_reduce_last": False,
        "use_reduce_max": True,
        "use_reduce_mean": True,
        "tok2vec": tok2vec_cfg(elmo_dir, **kwargs),
    }
    nlp.add_pipe(pipe, config={"model": model})
    return nlp


def examples(nlp):
    out = []
    for text, label in TRAIN:
        cats = {"POS": float(label == "POS"), "NEG": float(label == "NEG")}
        out.append(Example.from_dict(nlp.make_doc(text), {"cats": cats}))
    return out


def train(nlp, steps=40, lr=0.02):
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    optimizer = Adam(lr)
    history = []
    for _ in range(steps):
        losses = {}
        nlp.update(exs, sgd=optimizer, losses=losses)
        history.append(sum(losses.values()))
    return history


def predictions(nlp, texts):
    return [nlp(t).cats for t in texts]


def assert_same_cats(a, b):
    for x, y in zip(a, b):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k] == pytest.approx(y[k], abs=1e-6)


def bilm_state(nlp, name="textcat"):
    model = nlp.get_pipe(name).model
    tok2vec = model.get_ref("tok2vec") if model.has_ref("tok2vec") else model
    return {k: v.clone() for k, v in get_elmo_module(tok2vec).bilm.state_dict().items()}


def test_frozen_textcat_learns_and_round_trips(elmo_dir, tmp_path):
    nlp = textcat_nlp(elmo_dir)
    nlp.initialize(lambda: examples(nlp))
    before = bilm_state(nlp)
    history = train(nlp)
    assert history[-1] < history[0] / 3
    texts = [t for t, _ in TRAIN]
    for (_, label), cats in zip(TRAIN, predictions(nlp, texts)):
        assert max(cats, key=cats.get) == label
    # trainable=false: the biLM did not move, the scalar mix did
    after = bilm_state(nlp)
    assert all(torch.equal(before[k], after[k]) for k in before)
    module = get_elmo_module(nlp.get_pipe("textcat").model.get_ref("tok2vec"))
    assert not module.bilm.training
    assert not any(p.requires_grad for p in module.bilm.parameters())
    assert not torch.equal(module.scalar_mix.weights.detach(), torch.zeros(3))
    expected = predictions(nlp, texts)
    assert_same_cats([d.cats for d in nlp.pipe(texts, batch_size=4)], expected)
    # the biLM lives in the pipeline: load without the original ELMo files
    copy = tmp_path / "elmo"
    shutil.copytree(elmo_dir, copy)
    nlp2 = textcat_nlp(copy)
    train(nlp2, steps=1)
    nlp.to_disk(tmp_path / "pipeline")
    nlp2.to_disk(tmp_path / "pipeline2")
    shutil.rmtree(copy)
    loaded = spacy.load(tmp_path / "pipeline2")
    assert_same_cats(predictions(loaded, texts), predictions(nlp2, texts))
    loaded = spacy.load(tmp_path / "pipeline")
    assert_same_cats(predictions(loaded, texts), expected)


def test_fine_tuned_bilm_changes_and_round_trips_through_bytes(elmo_dir):
    nlp = textcat_nlp(elmo_dir, representation="top", trainable=True, dropout=0.1)
    nlp.initialize(lambda: examples(nlp))
    before = bilm_state(nlp)
    history = train(nlp, steps=15, lr=0.01)
    assert history[-1] < history[0]
    after = bilm_state(nlp)
    assert any(not torch.equal(before[k], after[k]) for k in before)
    texts = [t for t, _ in TRAIN]
    expected = predictions(nlp, texts)
    data = nlp.to_bytes()
    fresh = textcat_nlp(elmo_dir, representation="top", trainable=True, dropout=0.1)
    fresh.initialize(lambda: examples(fresh))
    fresh.from_bytes(data)
    assert_same_cats(predictions(fresh, texts), expected)
    # and the fine-tuned weights came back, not the files' ones
    assert all(torch.equal(after[k], v) for k, v in bilm_state(fresh).items())


@pytest.mark.parametrize("representation", ["scalar_mix", "average", "top", "concat"])
def test_representations_against_embed_docs(elmo_dir, representation):
    model = build_elmo_tok2vec(
        elmo_dir / "options.json",
        elmo_dir / "weights.hdf5",
        representation=representation,
    )
    width = {"concat": 48}.get(representation, 16)
    assert model.has_dim("nO") is None  # set by initialize (the files may be gone)
    nlp = spacy.blank("en")
    docs = [
        nlp("a short one"),
        nlp("and a longer text that runs on for a while"),
        nlp(""),
    ]
    model.initialize(X=docs)
    assert model.get_dim("nO") == width
    got = model.predict(docs)
    layers = embed_docs(load_bilm_dir(elmo_dir), docs)
    for doc, y, acts in zip(docs, got, layers):
        assert y.shape == (len(doc), width)
        if representation == "top":
            expected = acts[-1]
        elif representation == "concat":
            expected = numpy.concatenate(list(acts), axis=-1)
        else:  # a fresh scalar mix is the average
            expected = acts.mean(axis=0)
        numpy.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_long_docs_are_cut_into_windows(elmo_dir):
    nlp = spacy.blank("en")
    doc = nlp(" ".join(f"w{i}" for i in range(11)))
    model = build_elmo_tok2vec(
        elmo_dir / "options.json",
        elmo_dir / "weights.hdf5",
        representation="top",
        max_length=4,
    )
    model.initialize(X=[doc])
    (y,) = model.predict([doc])
    bilm = load_bilm_dir(elmo_dir)
    pieces = [
        embed_docs(bilm, [doc[i : i + 4]], max_length=None)[0][-1] for i in (0, 4, 8)
    ]
    numpy.testing.assert_allclose(y, numpy.concatenate(pieces), rtol=1e-5, atol=1e-5)
    (whole,) = embed_docs(bilm, [doc], max_length=4)
    numpy.testing.assert_allclose(y, whole[-1], rtol=1e-5, atol=1e-5)


def test_tok2vec_component_with_listener_and_multilabel(elmo_dir, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "tok2vec", config={"model": tok2vec_cfg(elmo_dir, representation="average")}
    )
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 16}
    model = {
        "@architectures": "spacy.TextCatCNN.v2",
        "exclusive_classes": False,
        "tok2vec": listener,
    }
    nlp.add_pipe("textcat_multilabel", config={"model": model})
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    before = bilm_state(nlp, "tok2vec")
    optimizer = Adam(0.02)
    history = []
    for _ in range(30):
        losses = {}
        nlp.update(exs, sgd=optimizer, losses=losses)
        history.append(losses["textcat_multilabel"])
    assert history[-1] < history[0] / 2
    after = bilm_state(nlp, "tok2vec")
    assert all(torch.equal(before[k], after[k]) for k in before)
    texts = [t for t, _ in TRAIN]
    expected = predictions(nlp, texts)
    for (_, label), cats in zip(TRAIN, expected):
        assert cats[label] > 0.5
    with make_tempdir() as d:
        nlp.to_disk(d)
        assert_same_cats(predictions(spacy.load(d), texts), expected)


def test_empty_single_and_very_long_tokens(elmo_dir):
    nlp = spacy.blank("en")
    docs = [nlp(""), nlp("word"), nlp("x" * 200), nlp("")]
    model = build_elmo_tok2vec(
        elmo_dir / "options.json",
        elmo_dir / "weights.hdf5",
        trainable=True,
        dropout=0.2,
    )
    model.initialize(X=docs)
    ys, backprop = model.begin_update(docs)
    assert [y.shape for y in ys] == [(0, 16), (1, 16), (1, 16), (0, 16)]
    assert backprop([model.ops.alloc2f(*y.shape) + 1 for y in ys]) == []
    ys, backprop = model.begin_update([docs[0]])
    assert ys[0].shape == (0, 16) and backprop(ys) == []
    assert model.predict([]) == []


def test_bad_settings_and_missing_files(elmo_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown representation 'sum'"):
        build_elmo_tok2vec(
            elmo_dir / "options.json", elmo_dir / "weights.hdf5", representation="sum"
        )
    with pytest.raises(ValueError, match="dropout"):
        build_elmo_tok2vec(
            elmo_dir / "options.json", elmo_dir / "weights.hdf5", dropout=1.0
        )
    # building works without the files (spacy.load does that); initializing does not
    model = build_elmo_tok2vec(tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert model.has_dim("nO") is None
    with pytest.raises(DataError, match="options file not found"):
        model.initialize()
    shutil.copy(elmo_dir / "options.json", tmp_path / "options.json")
    with pytest.raises(DataError, match="weights file not found"):
        model.initialize()
