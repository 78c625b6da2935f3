"""Round trips JSONL/CSV -> DocBin -> docs, schema detection and held label sets."""

import csv
import json

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data import LabelSchema, convert
from spacy_kd.errors import DataError


def load_docs(path):
    nlp = spacy.blank("en")
    return list(DocBin().from_disk(path).get_docs(nlp.vocab))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_fixture_round_trip_keeps_every_text_and_label(tmp_path, data_dir):
    src = data_dir / "20ng_train.jsonl"
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    summary = convert(src, tmp_path / "train.spacy")
    docs = load_docs(tmp_path / "train.spacy")
    assert summary.n_docs == len(docs) == len(rows) == 200
    assert summary.multi_label is False
    assert len(summary.labels) == 20
    assert all(count == 10 for count in summary.label_counts.values())
    for row, doc in zip(rows, docs):
        assert doc.text == row["text"]
        assert set(doc.cats) == set(summary.labels)
        assert [k for k, v in doc.cats.items() if v == 1.0] == [row["label"]]
        assert sum(doc.cats.values()) == 1.0
    schema = LabelSchema.from_disk(tmp_path / "labels.json")
    assert schema.labels == sorted({r["label"] for r in rows})
    assert schema.multi_label is False


def test_multilabel_and_unlabelled_round_trip(tmp_path):
    rows = [
        {"text": "graphics card for sale", "labels": ["comp", "misc"]},
        {"text": "no labels at all here", "labels": []},
        {"text": "an unlabelled document"},
        {"text": "hockey scores", "labels": ["rec"], "id": 7},
    ]
    summary = convert(write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.spacy")
    assert summary.multi_label is True
    assert summary.labels == ["comp", "misc", "rec"]
    assert (summary.n_labelled, summary.n_unlabelled) == (3, 1)
    docs = load_docs(tmp_path / "out.spacy")
    assert [d.text for d in docs] == [r["text"] for r in rows]
    assert docs[0].cats == {"comp": 1.0, "misc": 1.0, "rec": 0.0}
    assert docs[1].cats == {"comp": 0.0, "misc": 0.0, "rec": 0.0}
    assert docs[2].cats == {}
    assert docs[3].cats == {"comp": 0.0, "misc": 0.0, "rec": 1.0}


def test_cats_round_trip_and_detection(tmp_path):
    """0/1 cats: exclusive when each row has one positive, else multi-label (soft
    gold values are refused: tests/data/test_bad_inputs.py)."""
    exclusive = [
        {"text": "a", "cats": {"x": 0, "y": 1}},
        {"text": "b", "label": "x"},
    ]
    summary = convert(
        write_jsonl(tmp_path / "ex.jsonl", exclusive),
        tmp_path / "ex.spacy",
        labels_out=tmp_path / "ex.json",
    )
    assert summary.multi_label is False
    docs = load_docs(tmp_path / "ex.spacy")
    assert docs[0].cats == {"x": 0.0, "y": 1.0}
    assert docs[1].cats == {"x": 1.0, "y": 0.0}
    multi = [
        {"text": "a", "cats": {"x": 1, "y": 1}},
        {"text": "b", "cats": {"x": 1}},
    ]
    summary = convert(
        write_jsonl(tmp_path / "ml.jsonl", multi),
        tmp_path / "ml.spacy",
        labels_out=tmp_path / "ml.json",
    )
    assert summary.multi_label is True
    docs = load_docs(tmp_path / "ml.spacy")
    assert docs[0].cats == {"x": 1.0, "y": 1.0}
    assert docs[1].cats == {"x": 1.0, "y": 0.0}


def test_csv_round_trip(tmp_path, data_dir):
    rows = [
        json.loads(line)
        for line in (data_dir / "20ng_test.jsonl").read_text().splitlines()
    ]
    src = tmp_path / "test.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "label"])
        for i, row in enumerate(rows):
            writer.writerow([i, row["text"], row["label"]])
    convert(src, tmp_path / "test.spacy")
    docs = load_docs(tmp_path / "test.spacy")
    assert [d.text for d in docs] == [r["text"] for r in rows]
    assert [max(d.cats, key=d.cats.get) for d in docs] == [r["label"] for r in rows]


def test_csv_multilabel_cells(tmp_path):
    src = tmp_path / "ml.csv"
    src.write_text('text,labels\n"a, b",x|y\nc,"[""y""]"\nd,\n', encoding="utf-8")
    summary = convert(src, tmp_path / "ml.spacy")
    docs = load_docs(tmp_path / "ml.spacy")
    assert summary.multi_label is True
    assert [d.cats for d in docs] == [{"x": 1.0, "y": 1.0}, {"x": 0.0, "y": 1.0}, {}]
    assert docs[0].text == "a, b"


def test_held_label_set_orders_labels_and_keeps_schema(tmp_path, data_dir):
    convert(data_dir / "20ng_train.jsonl", tmp_path / "train.spacy")
    labels = tmp_path / "labels.json"
    # the test fixture is held to the training label set
    summary = convert(
        data_dir / "20ng_test.jsonl", tmp_path / "test.spacy", labels=labels
    )
    assert summary.labels == LabelSchema.from_disk(labels).labels
    # a subset of labels, not held, would describe a different label set: refused
    subset = write_jsonl(tmp_path / "sub.jsonl", [{"text": "x", "label": "sci.med"}])
    with pytest.raises(DataError, match="already holds a different label set"):
        convert(subset, tmp_path / "sub.spacy")
    assert not (tmp_path / "sub.spacy").exists()
    summary = convert(subset, tmp_path / "sub.spacy", labels=labels)
    assert len(load_docs(tmp_path / "sub.spacy")[0].cats) == 20


def test_forced_kind_is_enforced(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a", "labels": ["x", "y"]}])
    with pytest.raises(
        DataError, match=r"in.jsonl:1: exclusive labels need exactly one label"
    ):
        convert(src, tmp_path / "out.spacy", multi_label=False)
    single = write_jsonl(
        tmp_path / "one.jsonl",
        [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}],
    )
    assert convert(single, tmp_path / "one.spacy", multi_label=True).multi_label is True


def test_held_kind_conflict(tmp_path):
    labels = tmp_path / "held.json"
    labels.write_text(json.dumps({"labels": ["x", "y"], "multi_label": True}))
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a", "label": "x"}])
    with pytest.raises(DataError, match="held label set says multi_label=True"):
        convert(src, tmp_path / "out.spacy", labels=labels, multi_label=False)
    assert convert(src, tmp_path / "out.spacy", labels=labels).multi_label is True


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "not a valid JSON label file"),
        ('{"labels": []}', "non-empty list of strings"),
        ('{"labels": ["a", "a"]}', "duplicates"),
        ('{"labels": ["a"], "multi_label": "yes"}', "must be true or false"),
    ],
)
def test_bad_label_file(tmp_path, content, problem):
    labels = tmp_path / "labels.json"
    labels.write_text(content)
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a", "label": "a"}])
    with pytest.raises(DataError) as err:
        convert(src, tmp_path / "out.spacy", labels=labels)
    assert str(err.value).startswith(f"{labels}: ")
    assert problem in str(err.value)


def test_convert_cli_summary(tmp_path, data_dir):
    out = tmp_path / "train.spacy"
    result = CliRunner().invoke(
        app,
        [
            "data",
            "convert",
            str(data_dir / "20ng_train.jsonl"),
            str(out),
            "--summary",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 200 docs" in result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["n_docs"] == 200 and summary["n_empty_skipped"] == 0
