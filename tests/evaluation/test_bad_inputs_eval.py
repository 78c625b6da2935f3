"""evaluate and score-pseudo on bad options and on gold files that cannot score."""

from pathlib import Path

import pytest
import spacy
from helpers import train_bow_textcat
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.data.split import split_corpus

DATA = Path(__file__).parent.parent / "fixtures"


def load_docs(path):
    return list(
        DocBin(store_user_data=True).from_disk(path).get_docs(spacy.blank("en").vocab)
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval_bad")
    convert(DATA / "20ng_train.jsonl", tmp / "train.spacy")
    docs = load_docs(tmp / "train.spacy")
    teacher = train_bow_textcat(
        lambda nlp: [Example(nlp.make_doc(d.text), d) for d in docs],
        tmp / "teacher",
        epochs=2,
    )
    split_corpus(tmp / "train.spacy", tmp / "split", n_labelled=20, n_dev=10)
    annotate([teacher], tmp / "split" / "pool.spacy", tmp / "ann", progress=False)
    return tmp


def run(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--sample", "-3", "--sample must be >= 0 (0: all docs), got -3"),
        ("--n-warmup", "-1", "--n-warmup must be >= 0, got -1"),
    ],
)
def test_evaluate_refuses_negative_counts(setup, tmp_path, option, value, message):
    out = tmp_path / "report.json"
    result = run(
        ["evaluate", setup / "teacher", "--data", DATA / "20ng_test.jsonl",
         "--no-speed", option, value, "--output", out]
    )  # fmt: skip
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists()


def test_score_pseudo_refuses_a_gold_file_without_labels(setup, tmp_path):
    out = tmp_path / "scores.json"
    pool = setup / "split" / "pool.spacy"
    result = run(["score-pseudo", setup / "ann", pool, "--output", out])
    assert result.exit_code == 1
    assert f"{pool}: doc 0 has no labels" in result.output
    assert "pool_gold.spacy" in result.output
    assert not out.exists()


def test_score_pseudo_refuses_another_label_set(setup, tmp_path):
    gold = DocBin(store_user_data=True)
    for doc in load_docs(setup / "split" / "pool_gold.spacy"):
        doc.cats = {"yes": 1.0, "no": 0.0}
        gold.add(doc)
    gold.to_disk(tmp_path / "other.spacy")
    out = tmp_path / "scores.json"
    result = run(
        ["score-pseudo", setup / "ann", tmp_path / "other.spacy", "--output", out]
    )
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'other.spacy'}: its labels differ" in result.output
    assert "only in the gold docs: [no, yes]" in result.output
    assert "only in the pseudo-labels: [alt.atheism" in result.output
    assert not out.exists()
