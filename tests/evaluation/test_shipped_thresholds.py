"""Per-label thresholds tuned on dev, shipped in a multi-label pipeline, applied by
``spacy.load`` and by spaCy's own scorer, and reported against the global one."""

import json
import shutil

import numpy as np
import pytest
import spacy
from conftest import DATA_DIR
from helpers import snapshot, train_bow_textcat, write_multilabel
from spacy.training import Example

from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.distillation.thresholds import saved_thresholds
from spacy_kd.evaluation import evaluate
from spacy_kd.evaluation.metrics import score_cats, tune_thresholds
from spacy_kd.evaluation.thresholds import save_tuned_thresholds


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    work = tmp_path_factory.mktemp("thresholds")
    train = write_multilabel(DATA_DIR / "20ng_train.jsonl", work / "train.jsonl")
    dev = write_multilabel(DATA_DIR / "20ng_test.jsonl", work / "dev.jsonl")
    model = train_bow_textcat(
        create_textcat_corpus_reader(train), work / "raw", multi_label=True,
        length=2**14, epochs=4, batch_size=16,
    )  # fmt: skip
    excl = train_bow_textcat(
        create_textcat_corpus_reader(DATA_DIR / "20ng_train.jsonl"), work / "excl",
        length=2**12, epochs=1,
    )  # fmt: skip
    return work, model, dev, excl


def _raw_scores(nlp, labels, texts):
    with nlp.select_pipes(disable=["label_thresholds"]):
        return np.array([[d.cats[label] for label in labels] for d in nlp.pipe(texts)])


def test_tuned_thresholds_are_saved_and_applied_by_spacy_load(work, tmp_path):
    work, model, dev, _ = work
    path = tmp_path / "model-best"
    shutil.copytree(model, path)
    thresholds = save_tuned_thresholds(path, dev)
    nlp = spacy.load(path)
    assert nlp.pipe_names == ["textcat_multilabel", "label_thresholds"]
    labels = list(nlp.get_pipe("textcat_multilabel").labels)
    assert sorted(thresholds) == sorted(labels) and saved_thresholds(nlp) == thresholds
    assert len(set(thresholds.values())) > 1  # tuned per label, not one cut
    rows = [json.loads(x) for x in dev.read_text().splitlines()]
    texts = [r["text"] for r in rows]
    raw = _raw_scores(nlp, labels, texts)
    # the same thresholds as tuning the classifier's own scores directly
    gold = [{label: float(label in r["labels"]) for label in labels} for r in rows]
    expected = tune_thresholds(gold, raw, labels)
    assert [thresholds[label] for label in labels] == pytest.approx(expected)
    # spacy.load decides with them: cats >= 0.5 exactly where raw >= threshold
    cut = np.array([thresholds[label] for label in labels])
    shipped = np.array([[d.cats[label] for label in labels] for d in nlp.pipe(texts)])
    assert np.array_equal(shipped >= 0.5, raw >= cut[None, :])
    # spaCy's own scorer (threshold 0.5) now reports the tuned macro-F
    examples = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]
    for ex, g in zip(examples, gold):
        ex.reference.cats = g
    ours = score_cats(gold, raw, labels, multi_label=True, thresholds=list(cut))
    assert nlp.evaluate(examples)["cats_macro_f"] == pytest.approx(ours.macro_f)
    # tuning again reads the raw scores, not the rescaled ones: same thresholds
    before = snapshot(path)
    assert save_tuned_thresholds(path, dev) == thresholds
    assert spacy.load(path).pipe_names == nlp.pipe_names
    assert snapshot(path).keys() == before.keys()


def test_report_sets_shipped_or_tuned_thresholds_against_the_global_one(work, tmp_path):
    work, model, dev, _ = work
    path = tmp_path / "student" / "model-best"
    shutil.copytree(model, path)
    save_tuned_thresholds(path, dev)
    plain = evaluate([model], dev, measure_speed=False).pipelines[0]
    assert plain.accuracy_global is None and plain.threshold_source == "threshold 0.5"
    # without dev: the pipeline's own thresholds; the global row is the raw model's
    report = evaluate([path], dev, measure_speed=False)
    shipped = report.pipelines[0]
    assert shipped.threshold_source == "saved in the pipeline"
    assert shipped.accuracy_global.macro_f == pytest.approx(plain.accuracy.macro_f)
    assert shipped.accuracy.macro_f > shipped.accuracy_global.macro_f
    # with dev: tuned there for every pipeline, the shipped one included
    tuned = evaluate([model, path], dev, tune_thresholds_on=dev, measure_speed=False)
    a, b = tuned.pipelines
    assert a.accuracy.macro_f == pytest.approx(b.accuracy.macro_f)
    assert a.accuracy.macro_f == pytest.approx(shipped.accuracy.macro_f)
    markdown = tuned.to_markdown()
    assert "## Per-label thresholds against one global threshold" in markdown
    row = f"| {a.name} | {100 * a.accuracy_global.macro_f:.2f} | "
    assert row in markdown
    saved = tuned.to_dict()["pipelines"][0]["accuracy_global_threshold"]
    assert saved["macro_f"] == pytest.approx(plain.accuracy.macro_f)


def test_exclusive_pipelines_are_left_as_they_are(work, tmp_path):
    work, _, _, excl = work
    path = tmp_path / "excl"
    shutil.copytree(excl, path)
    before = snapshot(path)
    dev = DATA_DIR / "20ng_test.jsonl"
    assert save_tuned_thresholds(path, dev) is None
    assert snapshot(path) == before
