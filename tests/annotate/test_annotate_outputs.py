"""annotate's output folder: a file is a clear error, another run's files are replaced
only with --overwrite (this run's are still resumed), inputs are never written over."""

import shutil
from pathlib import Path

import pytest
from conftest import DATA_DIR
from helpers import refused, snapshot, train_bow_textcat
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.errors import DataError

TRAIN, TEST = DATA_DIR / "20ng_train.jsonl", DATA_DIR / "20ng_test.jsonl"


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("annotate_outputs") / "teacher"
    return train_bow_textcat(create_textcat_corpus_reader(TRAIN), out, epochs=2)


@pytest.fixture
def texts(tmp_path) -> Path:
    path = tmp_path / "pool.jsonl"  # its labels are ignored: 100 texts
    shutil.copy(TEST, path)
    return path


def cli(*args):
    return CliRunner().invoke(app, ["annotate", *map(str, args), "--no-progress"])


def test_an_output_that_is_a_file_is_refused(teacher, texts, tmp_path):
    target = tmp_path / "taken.txt"
    target.write_text("not a folder\n")
    before = snapshot(tmp_path)
    refused(cli(teacher, texts, target), target, "is a file, expected a folder")
    assert snapshot(tmp_path) == before


def test_another_run_is_replaced_only_with_overwrite(teacher, texts, tmp_path):
    out = tmp_path / "out"
    assert cli(teacher, texts, out, "--shard-size", 40).exit_code == 0
    before = snapshot(out)
    refused(
        cli(teacher, texts, out, "--shard-size", 40, "--hard"),
        out,
        "pass --overwrite to start over",
    )
    assert snapshot(out) == before
    # the same run with --overwrite: resumed, as without it
    summary = annotate(
        [teacher], texts, out, shard_size=40, progress=False, overwrite=True
    )
    assert summary.n_shards_resumed == summary.n_shards == 3
    result = cli(teacher, texts, out, "--shard-size", 50, "--hard", "--overwrite")
    assert result.exit_code == 0, result.output
    assert [p.name for p in iter_shards(out)] == [
        "shard-00000.spacy",
        "shard-00001.spacy",
    ]
    assert "0 shards resumed" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "shard-00000.json", "shard-00000.spacy",
        "shard-00001.json", "shard-00001.spacy", "summary.json",
    ]  # fmt: skip


def test_an_input_under_a_name_the_run_writes_is_refused(teacher, texts, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    source = out / "shard-00000.json"
    source.write_bytes(texts.read_bytes())
    before = snapshot(out)
    with pytest.raises(DataError, match="is an input but lies in the output folder"):
        annotate([teacher], source, out, progress=False, overwrite=True)
    assert snapshot(out) == before


def test_score_pseudo_output_onto_a_shard_is_refused(teacher, texts, tmp_path):
    out = tmp_path / "out"
    assert cli(teacher, texts, out).exit_code == 0
    gold = tmp_path / "gold.spacy"
    DocBin().to_disk(gold)
    before = snapshot(tmp_path)
    shard = out / "shard-00000.spacy"
    result = CliRunner().invoke(
        app, ["score-pseudo", str(out), str(gold), "--output", str(shard)]
    )
    refused(result, shard, "is an input")
    assert snapshot(tmp_path) == before


# --- a run is keyed by content: never a silent resume of stale shards ---------------


def test_a_teacher_retrained_in_place_is_not_resumed(teacher, texts, tmp_path):
    """Same path, name, version and labels, other weights: the old shards hold the
    old teacher's probabilities, so resuming them would mix two teachers."""
    model = tmp_path / "teacher"
    shutil.copytree(teacher, model)
    out = tmp_path / "out"
    assert cli(model, texts, out, "--shard-size", 40).exit_code == 0
    before = snapshot(out)
    shutil.rmtree(model)
    train_bow_textcat(create_textcat_corpus_reader(TEST), model, epochs=1)
    refused(
        cli(model, texts, out, "--shard-size", 40),
        out,
        "teacher teacher's files changed (retrained in place?)",
    )
    assert snapshot(out) == before
    result = cli(model, texts, out, "--shard-size", 40, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "0 shards resumed" in result.output


def test_an_input_edited_to_the_same_size_is_not_resumed(teacher, texts, tmp_path):
    out = tmp_path / "out"
    assert cli(teacher, texts, out, "--shard-size", 40).exit_code == 0
    before = snapshot(out)
    data = texts.read_bytes()
    edited = data.replace(b"a", b"e", 1)
    assert len(edited) == len(data) and edited != data
    texts.write_bytes(edited)
    refused(
        cli(teacher, texts, out, "--shard-size", 40),
        out,
        f"the content of the input {texts.resolve()} changed",
    )
    assert snapshot(out) == before


def test_a_run_that_wrote_no_shard_can_be_rerun(teacher, texts, tmp_path):
    """A run stopped before its first shard leaves only its manifest: a rerun with
    other settings is not 'a different run' to protect."""
    out = tmp_path / "out"
    assert cli(teacher, texts, out, "--shard-size", 40).exit_code == 0
    for shard in out.glob("shard-*"):
        shard.unlink()
    (out / "summary.json").unlink()
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    result = cli(teacher, texts, out, "--shard-size", 50, "--hard")
    assert result.exit_code == 0, result.output
    assert len(iter_shards(out)) == 2
