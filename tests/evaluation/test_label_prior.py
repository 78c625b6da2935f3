"""``label-prior``: an exclusive pipeline's label-prior weights fitted on unlabelled
docs, shipped in the pipeline and applied by ``spacy.load``."""

import json
import shutil

import numpy as np
import pytest
import spacy
from conftest import DATA_DIR
from helpers import snapshot, train_bow_textcat, write_multilabel
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.evaluation.metrics import score_cats
from spacy_kd.evaluation.prior import save_prior_correction

TRAIN = DATA_DIR / "20ng_train.jsonl"
TEST = DATA_DIR / "20ng_test.jsonl"


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("prior")
    excl = train_bow_textcat(
        create_textcat_corpus_reader(TRAIN), work / "excl", length=2**12, epochs=1
    )
    multi = train_bow_textcat(
        create_textcat_corpus_reader(write_multilabel(TRAIN, work / "ml.jsonl")),
        work / "multi", multi_label=True, length=2**12, epochs=1,
    )  # fmt: skip
    nlp = spacy.blank("en")
    texts = [json.loads(x)["text"] for x in TEST.read_text().splitlines()]
    DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(work / "pool.spacy")
    # a gold set whose label shares differ from what the model predicts: the
    # training rows with the first label repeated
    rows = TRAIN.read_text().splitlines()
    first = json.loads(rows[0])["label"]
    extra = [r for r in rows if json.loads(r)["label"] == first] * 4
    (work / "gold.jsonl").write_text("\n".join(rows + extra) + "\n")
    return work, excl, multi, texts


def _prior(path, labels):
    cats = [json.loads(x)["label"] for x in path.read_text().splitlines()]
    return np.array([cats.count(label) for label in labels]) / len(cats)


def test_weights_are_fitted_saved_and_applied_by_spacy_load(work, tmp_path):
    work, excl, _, texts = work
    path = tmp_path / "model-best"
    shutil.copytree(excl, path)
    weights = save_prior_correction(
        path, work / "pool.spacy", work / "gold.jsonl", dev=TEST
    )
    nlp = spacy.load(path)
    assert nlp.pipe_names == ["textcat", "label_prior"]
    labels = list(nlp.get_pipe("textcat").labels)
    assert sorted(weights) == sorted(labels)
    target = _prior(work / "gold.jsonl", labels)
    assert nlp.get_pipe("label_prior").target == pytest.approx(
        dict(zip(labels, target))
    )
    corrected = np.array([[d.cats[x] for x in labels] for d in nlp.pipe(texts)])
    with nlp.select_pipes(disable=["label_prior"]):
        raw = np.array([[d.cats[x] for x in labels] for d in nlp.pipe(texts)])
    assert corrected.sum(axis=1) == pytest.approx(np.ones(len(texts)), abs=1e-5)
    # on the docs it was fitted on, the mean prediction is the gold label shares
    assert corrected.mean(axis=0) == pytest.approx(target, abs=1e-4)
    assert abs(raw.mean(axis=0) - target).max() > 0.05  # it did have to move
    # meta.json's dev score (what students are picked by) is the corrected one's
    gold = [{x: float(x == json.loads(r)["label"]) for x in labels}
            for r in TEST.read_text().splitlines()]  # fmt: skip
    before = score_cats(gold, raw, labels, multi_label=False).macro_f
    after = score_cats(gold, corrected, labels, multi_label=False).macro_f
    assert nlp.meta["performance"]["cats_macro_f"] == pytest.approx(after)
    record = nlp.meta["spacy_kd_label_prior"]
    assert record["dev_macro_f_before"] == pytest.approx(before)
    assert record["dev_macro_f_after"] == pytest.approx(after) and after != before
    # fitting again on a pipeline that has the component starts from the raw
    # probabilities, so the weights do not compound
    again = save_prior_correction(path, work / "pool.spacy", work / "gold.jsonl")
    assert again == pytest.approx(weights)
    assert spacy.load(path).pipe_names == ["textcat", "label_prior"]


def test_multilabel_pipelines_are_left_alone(work, tmp_path):
    work, _, multi, _ = work
    path = tmp_path / "model-best"
    shutil.copytree(multi, path)
    before = snapshot(path)
    assert save_prior_correction(path, work / "pool.spacy", work / "gold.jsonl") is None
    assert snapshot(path) == before


def test_cli_fits_every_pipeline_and_names_bad_input(work, tmp_path):
    work, excl, multi, _ = work
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(excl, a)
    shutil.copytree(multi, b)
    base = ["label-prior", "--unlabelled", str(work / "pool.spacy"), "--gold"]
    result = CliRunner().invoke(app, [*base, str(work / "gold.jsonl"), str(a), str(b)])
    assert result.exit_code == 0, result.output
    n = len(spacy.load(excl).get_pipe("textcat").labels)
    assert f"{n} label weights fitted on" in " ".join(result.output.split())
    assert "multi-label, left as it is" in result.output
    assert spacy.load(a).pipe_names == ["textcat", "label_prior"]
    missing = tmp_path / "nope.spacy"
    bad = [
        "label-prior",
        "--unlabelled",
        str(missing),
        "--gold",
        str(work / "gold.jsonl"),
    ]
    result = CliRunner().invoke(app, [*bad, str(a)])
    assert result.exit_code == 1
    assert f"{missing}: file not found" in result.output
