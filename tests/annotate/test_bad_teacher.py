"""annotate with a broken teacher folder or an empty input: one clear line."""

from pathlib import Path

import pytest
from helpers import train_bow_textcat
from spacy.training import Example
from typer.testing import CliRunner

from spacy_kd.cli import app

TEXTS = ["a text about hockey", "a text about space"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("teacher")

    def examples(nlp):
        cats = [{"hockey": 1.0, "space": 0.0}, {"hockey": 0.0, "space": 1.0}]
        return [
            Example.from_dict(nlp.make_doc(t), {"cats": c}) for t, c in zip(TEXTS, cats)
        ]

    return train_bow_textcat(examples, tmp / "teacher", epochs=1)


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("✘ "), result.output
    return lines[0]


@pytest.mark.parametrize(
    "content",
    [
        "garbage [[[ =\n",
        '[nlp]\nlang = "en"\npipeline = ["textcat"]\n[components]\n',
    ],
)
def test_garbage_config_is_one_line_naming_the_folder(teacher, tmp_path, content):
    bad = tmp_path / "bad_teacher"
    bad.mkdir()
    for item in teacher.rglob("*"):
        target = bad / item.relative_to(teacher)
        if item.is_dir():
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(item.read_bytes())
    config = bad / "config.cfg"
    config.write_bytes(content if isinstance(content, bytes) else content.encode())
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["annotate", str(bad), str(texts), str(out), "--no-progress"]
    )
    line = one_line_error(result)
    assert str(bad) in line
    assert not out.exists()


@pytest.mark.parametrize("content", [b"garbage [[[ =\n", b"\xbe\x00\xff binary"])
def test_garbage_config_names_the_config_file(teacher, tmp_path, content):
    bad = tmp_path / "t"
    bad.mkdir()
    (bad / "config.cfg").write_bytes(content)
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["annotate", str(bad), str(texts), str(tmp_path / "o")]
    )
    line = one_line_error(result)
    assert f"{bad}: cannot load the spaCy pipeline: its config.cfg is not a" in line


def test_annotate_refuses_an_input_without_documents(teacher, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n \n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["annotate", str(teacher), str(texts), str(out), "--no-progress"]
    )
    line = one_line_error(result)
    assert f"{texts}: no documents" in line
    assert not list(out.glob("shard-*"))  # (a manifest.json is left: see report)
