"""Messy input files: a readable error with file and line, or a working result."""

import csv
import json
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.labels import rare_class_warnings
from spacy_kd.data.texts import read_texts
from spacy_kd.errors import DataError


def convert_cli(src: Path, tmp_path: Path):
    out = tmp_path / "out" / "train.spacy"
    result = CliRunner().invoke(app, ["data", "convert", str(src), str(out)])
    return result, out


def assert_refused(result, out: Path, where: str, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert f"{where}: " in result.output
    for fragment in fragments:
        assert fragment in result.output
    assert "Traceback" not in result.output
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.parametrize(
    "name,content,problem",
    [
        ("empty.jsonl", "", "no documents: the file is empty"),
        ("blank.jsonl", "\n\n", "no documents: the file is empty"),
        ("header.csv", "text,label\n", "no documents: the file has no rows"),
        (
            "texts.jsonl",
            '{"text": "", "label": "a"}\n{"text": " ", "label": "b"}\n',
            "no documents: all 2 rows have an empty text",
        ),
    ],
)
def test_convert_refuses_a_file_without_documents(tmp_path, name, content, problem):
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    result, out = convert_cli(src, tmp_path)
    assert_refused(result, out, str(src), problem)


@pytest.mark.parametrize(
    "cats,fragment",
    [
        ({"": 1}, "the label name '' is empty"),
        ({" a ": 1}, "the label name ' a ' has surrounding whitespace; write 'a'"),
    ],
)
def test_convert_refuses_bad_cats_keys(tmp_path, cats, fragment):
    src = tmp_path / "in.jsonl"
    rows = [{"text": "fine", "cats": {"a": 1}}, {"text": "bad", "cats": cats}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result, out = convert_cli(src, tmp_path)
    assert_refused(result, out, f"{src}:2", fragment)


def test_convert_refuses_soft_gold_values(tmp_path):
    src = tmp_path / "in.jsonl"
    rows = [
        {"text": "fine", "cats": {"a": 1, "b": 0}},
        {"text": "soft", "cats": {"a": 0.7, "b": 0.3}},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result, out = convert_cli(src, tmp_path)
    assert_refused(
        result,
        out,
        f"{src}:2",
        "cats['a'] = 0.7",
        "must be 0 or 1",
        "spacy_kd annotate",
    )


def test_convert_refuses_a_lone_surrogate(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"text": "fine", "label": "a"}\n{"text": "cut \\ud800 pair", "label": "a"}\n',
        encoding="utf-8",
    )
    result, out = convert_cli(src, tmp_path)
    assert_refused(result, out, f"{src}:2", "lone surrogate \\ud800 at character 4")


def test_convert_reads_csv_fields_longer_than_the_csv_default(tmp_path):
    src = tmp_path / "long.csv"
    long_text = "word " * 50_000  # 250,000 characters; the csv default is 131,072
    with src.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerow([long_text, "a"])
        writer.writerow(["short", "b"])
    result, out = convert_cli(src, tmp_path)
    assert result.exit_code == 0, result.output
    docs = list(DocBin().from_disk(out).get_docs(spacy.blank("en").vocab))
    assert [len(d.text) for d in docs] == [len(long_text), 5]
    texts = [text for _, text in read_texts(src)]
    assert texts == [long_text, "short"]


@pytest.mark.parametrize(
    "name,content", [("empty.txt", ""), ("blank.txt", "\n  \n"), ("e.jsonl", "")]
)
def test_read_texts_refuses_a_file_without_documents_when_called(
    tmp_path, name, content
):
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match="no documents") as err:
        read_texts(src)  # not iterated: annotate learns before it writes anything
    assert err.value.path == str(src)


def test_read_texts_refuses_an_empty_docbin(tmp_path):
    src = tmp_path / "empty.spacy"
    DocBin().to_disk(src)
    with pytest.raises(DataError, match="no documents: the file is empty"):
        read_texts(src)


def test_unknown_language_code_is_a_clear_error(tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text("one text\n", encoding="utf-8")
    with pytest.raises(DataError, match="--lang 'zz' is not a language code"):
        read_texts(src, lang="zz")
    result = CliRunner().invoke(
        app, ["pretrain-elmo", str(src), str(tmp_path / "elmo"), "--lang", "zz"]
    )
    assert result.exit_code == 1
    assert "--lang 'zz' is not a language code" in result.output
    assert not (tmp_path / "elmo").exists()


def test_a_failing_plugin_import_is_not_called_an_unknown_language(monkeypatch):
    """spacy.blank loads the plugins' entry points: one that cannot import (an
    older spacy_kd copy shadowing the installed one, say) was reported as "--lang
    'en' is not a language code"."""
    from spacy_kd.data import language

    def broken(lang):
        raise ModuleNotFoundError("No module named 'spacy_kd.some_module'")

    monkeypatch.setattr(language.spacy, "blank", broken)
    with pytest.raises(ModuleNotFoundError, match="spacy_kd.some_module"):
        language.blank_language("en")


def test_pretrain_elmo_refuses_an_empty_corpus(tmp_path):
    src = tmp_path / "texts.txt"
    src.write_text("\n\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["pretrain-elmo", str(src), str(tmp_path / "e")])
    assert result.exit_code == 1
    assert f"{src}: no documents" in result.output
    assert not (tmp_path / "e").exists()


def test_rare_class_warnings_name_the_class_and_where_it_went():
    parts = {
        "labelled": [{"a": 1.0, "b": 0.0, "c": 0.0}] * 3,
        "dev": [{"a": 0.0, "b": 1.0, "c": 0.0}],
        "pool": [{"a": 1.0, "b": 0.0, "c": 0.0}],
    }
    assert rare_class_warnings(parts) == [
        "class 'b' has 1 example in the corpus and none in labelled (1 in dev): "
        "the student never sees a gold example of it",
        "class 'c' has no example in the corpus",
    ]
