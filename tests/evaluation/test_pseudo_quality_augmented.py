"""annotate reads an augmented pool; score-pseudo scores its originals only."""

import json
from pathlib import Path

import numpy
import pytest
from helpers import train_bow_textcat
from spacy.training import Example
from typer.testing import CliRunner

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.pseudo import pseudo_record
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.data.augment import augment_docbin
from spacy_kd.data.docbin import ID_KEY, read_docbin, write_docbin
from spacy_kd.data.split import split_corpus
from spacy_kd.evaluation.pseudo_quality import score_pseudo_labels

DATA = Path(__file__).parent.parent / "fixtures"


def shard_docs(folder):
    return [doc for shard in iter_shards(folder) for doc in read_docbin(shard)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny teacher; the split pool annotated as it is and augmented (1 copy)."""
    tmp = tmp_path_factory.mktemp("pseudo_aug")
    convert(DATA / "20ng_train.jsonl", tmp / "train.spacy")
    convert(DATA / "20ng_test.jsonl", tmp / "test.spacy", labels=tmp / "labels.json")
    docs = read_docbin(tmp / "train.spacy")
    teacher = train_bow_textcat(
        lambda nlp: [Example(nlp.make_doc(d.text), d) for d in docs],
        tmp / "teacher",
        epochs=2,
    )
    split_corpus(tmp / "test.spacy", tmp / "split", n_labelled=20, n_dev=20)
    augment_docbin(tmp / "split" / "pool.spacy", tmp / "pool_aug.spacy", copies=1)
    for name, source in (("plain", "split/pool.spacy"), ("aug", "pool_aug.spacy")):
        annotate([teacher], tmp / source, tmp / name, shard_size=50, progress=False)
    return tmp


def test_annotate_reads_the_augmented_pool(runs):
    pool = read_docbin(runs / "pool_aug.spacy")
    docs = shard_docs(runs / "aug")
    assert len(pool) == len(docs) == 120
    assert [d.user_data[ID_KEY] for d in docs] == [d.user_data[ID_KEY] for d in pool]
    assert [d.text for d in docs] == [d.text for d in pool]
    assert all(pseudo_record(d) is not None for d in docs)
    # the originals get the very pseudo-labels of the pool annotated alone
    plain = shard_docs(runs / "plain")
    assert [d.cats for d in docs[:60]] == [d.cats for d in plain]


def test_score_pseudo_scores_the_originals_and_counts_the_copies(runs):
    gold = runs / "split" / "pool_gold.spacy"
    plain = score_pseudo_labels(runs / "plain", gold)
    scores = score_pseudo_labels(runs / "aug", gold)
    assert scores["n_docs"] == 60 and scores["n_unmatched"] == 0
    assert scores["n_augmented_skipped"] == 60
    assert plain["n_augmented_skipped"] == 0
    for key in ("accuracy", "micro_f1", "macro_f1"):
        assert scores[key] == plain[key]


def test_docs_missing_from_gold_are_unmatched_not_copies(runs, tmp_path):
    subset = tmp_path / "gold40.spacy"
    write_docbin(read_docbin(runs / "split" / "pool_gold.spacy")[:40], subset)
    scores = score_pseudo_labels(runs / "aug", subset)
    assert scores["n_docs"] == 40 and scores["n_unmatched"] == 20
    assert scores["n_augmented_skipped"] == 60


def test_an_augmented_labelled_file_without_ids_scores_against_itself(runs, tmp_path):
    """Copies of a file without ids are numbered by their original's position; its
    copies in the gold file (no labels) are left out, the originals matched."""
    test = runs / "test.spacy"
    augmented = tmp_path / "test_aug.spacy"
    augment_docbin(test, augmented, copies=1, seed=4)
    teacher = runs / "teacher"
    annotate([teacher], test, tmp_path / "plain", progress=False)
    annotate([teacher], augmented, tmp_path / "aug", progress=False)
    plain = score_pseudo_labels(tmp_path / "plain", test)
    scores = score_pseudo_labels(tmp_path / "aug", augmented)
    assert (scores["n_docs"], scores["n_augmented_skipped"]) == (100, 100)
    assert scores["n_unmatched"] == 0
    assert scores["accuracy"] == plain["accuracy"]
    assert numpy.isfinite(scores["macro_f1"]["combined"])


def test_score_pseudo_cli_writes_the_skipped_count(runs, tmp_path):
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app,
        ["score-pseudo", str(runs / "aug"), str(runs / "split" / "pool_gold.spacy"),
         "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Scored 60 pseudo-labelled docs" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["n_augmented_skipped"] == 60 and data["n_unmatched"] == 0
