"""annotate-merge: one-teacher runs over one input merge into the joint run."""

import json
import shutil
from pathlib import Path

import numpy
import pytest
import spacy
from conftest import DATA_DIR
from helpers import train_bow_textcat
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.merge import merge_runs
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.errors import DataError

TRAIN, TEST = DATA_DIR / "20ng_train.jsonl", DATA_DIR / "20ng_test.jsonl"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two tiny BOW teachers; each alone and both together over the 100 test texts,
    with weights 1:3 and with weights and temperatures fitted on dev."""
    tmp = tmp_path_factory.mktemp("merge")
    reader = create_textcat_corpus_reader(TRAIN)
    # 4096 hashed features (not 2**18): small models, quick to save, hash and load
    uni = train_bow_textcat(reader, tmp / "uni", epochs=3, length=4096)
    bi = train_bow_textcat(
        reader, tmp / "bi", ngram_size=2, epochs=2, seed=1, length=4096
    )
    dev = tmp / "dev.spacy"
    convert(TRAIN, dev)
    names = ("uni", "bi", "joint_13", "uni_dev", "bi_dev", "joint_dev")
    runs = {name: tmp / "runs" / name for name in names}
    annotate([uni], TEST, runs["uni"], shard_size=30, progress=False)
    annotate([bi], TEST, runs["bi"], shard_size=30, progress=False)
    annotate(
        [uni, bi], TEST, runs["joint_13"], shard_size=30, weights=[1, 3],
        progress=False,
    )  # fmt: skip
    for name, teachers in (("uni", [uni]), ("bi", [bi]), ("joint", [uni, bi])):
        annotate(
            teachers, TEST, runs[f"{name}_dev"], shard_size=30, weights_from_dev=dev,
            progress=False,
        )  # fmt: skip
    return {"teachers": [uni, bi], "dev": dev, **runs}


def read(folder: Path):
    vocab = spacy.blank("en").vocab
    return [
        doc
        for shard in iter_shards(folder)
        for doc in DocBin(store_user_data=True).from_disk(shard).get_docs(vocab)
    ]


def assert_same_run(got: Path, want: Path) -> None:
    """Every doc: the same id, text, per-teacher probabilities, weights and cats;
    the same manifest, shard statistics, and even shard bytes."""
    a, b = read(got), read(want)
    assert len(a) == len(b) == 100
    for x, y in zip(a, b):
        assert x.user_data["spacy_kd_id"] == y.user_data["spacy_kd_id"]
        assert x.text == y.text
        r, q = x.user_data["spacy_kd"], y.user_data["spacy_kd"]
        assert r["probs"] == q["probs"]  # exactly: copied, not recomputed
        assert (r["teachers"], r["weights"], r["labels"]) == (
            q["teachers"],
            q["weights"],
            q["labels"],
        )
        assert x.cats == y.cats
    manifest = "manifest.json"
    assert json.loads((got / manifest).read_text()) == json.loads(
        (want / manifest).read_text()
    )
    for shard in iter_shards(want):
        stats = shard.with_suffix(".json").name
        assert (got / stats).read_text() == (want / stats).read_text()
        assert (got / shard.name).read_bytes() == shard.read_bytes()


def test_merged_one_teacher_runs_equal_the_joint_run(setup, tmp_path):
    out = tmp_path / "merged"
    summary = merge_runs(
        [setup["uni"], setup["bi"]], out, weights=[1, 3], progress=False
    )
    assert summary.teachers == ["uni", "bi"]
    assert summary.weights == pytest.approx([0.25, 0.75])
    assert summary.n_shards == 4 and summary.n_written == 100
    assert_same_run(out, setup["joint_13"])
    saved = json.loads((out / "summary.json").read_text())
    joint = json.loads((setup["joint_13"] / "summary.json").read_text())
    for key in ("n_input", "n_written", "label_counts", "teacher_agreement"):
        assert saved[key] == joint[key]
    assert saved["merged_from"] == [str(setup["uni"]), str(setup["bi"])]
    # a merge resumes like annotate: the shards on disk are kept
    (out / "shard-00002.spacy").unlink()
    again = merge_runs([setup["uni"], setup["bi"]], out, weights=[1, 3], progress=False)
    assert again.n_shards_resumed == 3
    assert_same_run(out, setup["joint_13"])


def test_weights_fitted_on_dev_are_the_joint_runs(setup, tmp_path):
    """Runs calibrated on dev, merged with --weights-from-dev on the same dev data:
    the joint run's temperatures, weights, probabilities and cats (via the CLI)."""
    out = tmp_path / "merged"
    args = [setup["uni_dev"], setup["bi_dev"], out]
    result = CliRunner().invoke(
        app,
        ["annotate-merge", *map(str, args), "--weights-from-dev", str(setup["dev"])]
        + ["--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "Merged 2 runs into 100 docs in 4 shards" in result.output
    assert_same_run(out, setup["joint_dev"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["temperatures"]) == {"uni", "bi"}
    stored = json.loads((out / "dev_fit.json").read_text())
    joint = json.loads((setup["joint_dev"] / "dev_fit.json").read_text())
    assert stored == joint
    # uncalibrated runs with dev data the others were calibrated on: refused
    with pytest.raises(DataError, match="some runs were calibrated on dev data"):
        merge_runs(
            [setup["uni_dev"], setup["bi"]], tmp_path / "mixed",
            weights_from_dev=setup["dev"], progress=False,
        )  # fmt: skip


def test_runs_that_differ_are_refused(setup, tmp_path):
    uni, bi = setup["teachers"]
    other_shards = tmp_path / "shards40"
    annotate([bi], TEST, other_shards, shard_size=40, progress=False)
    with pytest.raises(
        DataError, match="cannot be merged with .*the shard size differ"
    ):
        merge_runs([setup["uni"], other_shards], tmp_path / "out", progress=False)
    edited = tmp_path / "edited.jsonl"
    edited.write_text(TEST.read_text().replace("the", "teh", 1))
    annotate([bi], edited, tmp_path / "edited", shard_size=30, progress=False)
    with pytest.raises(DataError, match="the input's content differ"):
        merge_runs([setup["uni"], tmp_path / "edited"], tmp_path / "out")
    with pytest.raises(DataError, match="teacher 'uni' is in"):
        merge_runs([setup["uni"], setup["joint_13"]], tmp_path / "out")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(setup["bi"], unfinished)
    (unfinished / "summary.json").unlink()
    with pytest.raises(DataError, match="not finished"):
        merge_runs([setup["uni"], unfinished], tmp_path / "out")
    annotate([bi], TEST, tmp_path / "conf", shard_size=30, min_confidence=0.2)
    with pytest.raises(DataError, match="--min-confidence 0.2"):
        merge_runs([setup["uni"], tmp_path / "conf"], tmp_path / "out")
    with pytest.raises(DataError, match="3 weights for 2 teachers"):
        merge_runs([setup["uni"], setup["bi"]], tmp_path / "out", weights=[1, 2, 3])
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(
        app, ["annotate-merge", str(setup["uni"]), str(other_shards), str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"✘ {other_shards}: cannot be merged" in result.output


def test_docs_tokenized_differently_are_refused(setup, tmp_path):
    """Same input, but the docs of one run have other tokens (another tokenizer)."""
    run = tmp_path / "bi"
    shutil.copytree(setup["bi"], run)
    shard = run / "shard-00001.spacy"
    vocab = spacy.blank("en").vocab
    docs = list(DocBin(store_user_data=True).from_disk(shard).get_docs(vocab))
    doc = docs[3]
    with doc.retokenize() as retokenizer:
        retokenizer.merge(doc[0:2])
    DocBin(docs=docs, store_user_data=True).to_disk(shard)
    with pytest.raises(DataError, match="shard-00001.spacy: doc 33 is tokenized"):
        merge_runs([setup["uni"], run], tmp_path / "out", progress=False)
    numpy.testing.assert_equal(len(docs), 30)
