"""Reading JSONL / CSV rows, and every kind of bad input the converter must reject."""

import json
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.errors import DataError


def write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(*rows) -> str:
    return "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows)


GOOD = {"text": "a fine row", "label": "pos"}

# (name, file name, content, expected line, expected fragment of the problem)
BAD_INPUTS = [
    (
        "invalid json",
        "in.jsonl",
        jsonl(GOOD, '{"text": "oops", "label": \n'),
        2,
        "invalid JSON",
    ),
    (
        "not an object",
        "in.jsonl",
        jsonl(GOOD, GOOD, "[1, 2]\n"),
        3,
        "expected a JSON object",
    ),
    (
        "missing text",
        "in.jsonl",
        jsonl(GOOD, {"label": "pos"}),
        2,
        "missing the 'text' field",
    ),
    (
        "text not a string",
        "in.jsonl",
        jsonl({"text": 12, "label": "pos"}),
        1,
        "'text' must be a string, got a int (12)",
    ),
    (
        "text null",
        "in.jsonl",
        jsonl(GOOD, {"text": None}),
        2,
        "'text' must be a string, got null",
    ),
    (
        "label int",
        "in.jsonl",
        jsonl(GOOD, GOOD, {"text": "x", "label": 3}),
        3,
        "'label' must be a non-empty string",
    ),
    (
        "labels not a list",
        "in.jsonl",
        jsonl({"text": "x", "labels": "a"}),
        1,
        "'labels' must be a list of strings, got a string",
    ),
    (
        "labels item int",
        "in.jsonl",
        jsonl({"text": "x", "labels": ["a", 1]}),
        1,
        "'labels' must hold non-empty strings",
    ),
    (
        "cats not a dict",
        "in.jsonl",
        jsonl({"text": "x", "cats": ["a"]}),
        1,
        "'cats' must be an object",
    ),
    (
        "cats value str",
        "in.jsonl",
        jsonl({"text": "x", "cats": {"a": "1"}}),
        1,
        "cats['a'] must be a number",
    ),
    (
        "cats value bool",
        "in.jsonl",
        jsonl({"text": "x", "cats": {"a": True}}),
        1,
        "cats['a'] must be a number",
    ),
    (
        "cats out of range",
        "in.jsonl",
        jsonl(GOOD, {"text": "x", "cats": {"a": 1.5}}),
        2,
        "outside [0, 1]",
    ),
    (
        "two label keys",
        "in.jsonl",
        jsonl({"text": "x", "label": "a", "labels": ["a"]}),
        1,
        "only one of",
    ),
    (
        "undecodable jsonl",
        "in.jsonl",
        jsonl(GOOD).encode() + b'{"text": "caf\xe9", "label": "pos"}\n',
        2,
        "cannot decode",
    ),
    (
        "undecodable csv",
        "in.csv",
        b"text,label\nfine,pos\nalso fine,neg\ncaf\xe9,pos\n",
        4,
        "cannot decode",
    ),
    (
        "csv bad quoting",
        "in.csv",
        'text,label\nfine,pos\n"unterminated,pos\n',
        3,
        "invalid CSV",
    ),
    (
        "csv wrong field count",
        "in.csv",
        "text,label\nfine,pos\nfine,pos,extra\n",
        3,
        "expected 2 fields",
    ),
    ("csv no text column", "in.csv", "body,label\nfine,pos\n", 1, "no 'text' column"),
    (
        "csv cats not json",
        "in.csv",
        "text,cats\nfine,{a: 1}\n",
        2,
        "'cats' cell is not valid JSON",
    ),
    (
        "exclusive cats not summing",
        "in.jsonl",
        jsonl({"text": "x", "cats": {"a": 1, "b": 1}}),
        1,
        "must sum to 1",
    ),
]


def _bad_params():
    for name, fname, content, line, fragment in BAD_INPUTS:
        yield pytest.param(fname, content, line, fragment, id=name)


def assert_no_output(out_dir: Path, expected_files=()):
    left = sorted(p.name for p in out_dir.iterdir())
    assert left == sorted(expected_files), f"unexpected files left behind: {left}"


@pytest.mark.parametrize("fname,content,line,fragment", list(_bad_params()))
def test_bad_input_is_reported_with_file_and_line(
    tmp_path, fname, content, line, fragment
):
    src = write(tmp_path / fname, content)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    exclusive = "sum to 1" in fragment
    with pytest.raises(DataError) as err:
        convert(src, out_dir / "train.spacy", multi_label=False if exclusive else None)
    message = str(err.value)
    assert message.startswith(f"{src}:{line}: "), message
    assert fragment in message
    assert err.value.line == line
    assert_no_output(out_dir)


@pytest.mark.parametrize("fname,content,line,fragment", list(_bad_params())[:6])
def test_bad_input_through_cli_exits_nonzero(tmp_path, fname, content, line, fragment):
    src = write(tmp_path / fname, content)
    out = tmp_path / "out" / "train.spacy"
    result = CliRunner().invoke(app, ["data", "convert", str(src), str(out)])
    assert result.exit_code == 1
    assert f"{src}:{line}:" in result.output
    assert fragment in result.output
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_label_outside_held_set(tmp_path):
    labels = write(
        tmp_path / "labels.json",
        json.dumps({"labels": ["neg", "pos"], "multi_label": False}),
    )
    src = write(tmp_path / "dev.jsonl", jsonl(GOOD, {"text": "x", "label": "neutral"}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(DataError) as err:
        convert(src, out_dir / "dev.spacy", labels=labels)
    assert str(err.value).startswith(
        f"{src}:2: label 'neutral' is not in the held label set"
    )
    assert "neg, pos" in str(err.value)
    assert_no_output(out_dir)


def test_failed_conversion_keeps_previous_output(tmp_path):
    out = tmp_path / "train.spacy"
    convert(write(tmp_path / "ok.jsonl", jsonl(GOOD)), out)
    before = out.read_bytes()
    with pytest.raises(DataError):
        convert(write(tmp_path / "bad.jsonl", jsonl(GOOD, "{nope\n")), out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.jsonl",
        "labels.json",
        "ok.jsonl",
        "train.spacy",
    ]


def test_multiline_csv_record_reports_its_start_line(tmp_path):
    content = 'text,cats\n"line one\nline two","{""a"": 1}"\nok,{a: 1}\n'
    src = write(tmp_path / "in.csv", content)
    with pytest.raises(DataError) as err:
        convert(src, tmp_path / "out.spacy")
    assert err.value.line == 4  # the first record spans lines 2-3


def test_empty_texts_are_skipped_and_counted(tmp_path):
    src = write(
        tmp_path / "in.jsonl",
        jsonl(
            GOOD,
            {"text": "", "label": "neg"},
            {"text": "  \n\t", "label": "pos"},
            {"text": "b", "label": "neg"},
        ),
    )
    summary = convert(src, tmp_path / "out.spacy")
    assert summary.n_docs == 2
    assert summary.n_empty_skipped == 2
    assert summary.empty_lines == [2, 3]
    result = CliRunner().invoke(
        app, ["data", "convert", str(src), str(tmp_path / "out2.spacy")]
    )
    assert result.exit_code == 0
    assert "Skipped 2 empty texts (lines 2, 3)" in result.output


def test_blank_lines_and_bom_are_tolerated(tmp_path):
    src = write(
        tmp_path / "in.jsonl",
        ("\ufeff" + jsonl(GOOD) + "\n\n" + jsonl({"text": "z", "label": "neg"})).encode(
            "utf-8"
        ),
    )
    summary = convert(src, tmp_path / "out.spacy")
    assert summary.n_docs == 2


def test_unknown_extension_needs_format(tmp_path):
    src = write(tmp_path / "in.txt", jsonl(GOOD))
    with pytest.raises(DataError, match="cannot tell the format"):
        convert(src, tmp_path / "out.spacy")
    assert convert(src, tmp_path / "out.spacy", fmt="jsonl").n_docs == 1


def test_missing_input_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        convert(tmp_path / "nope.jsonl", tmp_path / "out.spacy")
    assert not (tmp_path / "out.spacy").exists()


def test_output_is_a_docbin(tmp_path):
    convert(write(tmp_path / "in.jsonl", jsonl(GOOD)), tmp_path / "out.spacy")
    assert len(DocBin().from_disk(tmp_path / "out.spacy")) == 1
