"""``spacy_kd.label_kind`` and ``python -m spacy_kd configs``: one config per model,
switched between exclusive and multi-label."""

from pathlib import Path

import pytest
import spacy
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from thinc.api import Config
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.label_kind import (
    is_multi_label_config,
    parse_bool,
    switch_label_kind,
    write_kind_configs,
)

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.cfg"))


def read(path: Path) -> Config:
    return Config().from_str(path.read_text(encoding="utf-8"), interpolate=False)


def model_flags(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "exclusive_classes":
                yield value
            else:
                yield from model_flags(value)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_every_project_config_switches_both_ways(path):
    config = read(path)
    multi, _ = switch_label_kind(config, True)
    block = multi["components"]["textcat"]
    assert block["factory"] in ("textcat_multilabel", "kd_textcat_multilabel")
    assert list(model_flags(block["model"])) and not any(model_flags(block["model"]))
    assert block["threshold"] == 0.5  # 0 would predict every label
    assert is_multi_label_config(multi)
    exclusive, _ = switch_label_kind(multi, False)
    assert not is_multi_label_config(exclusive)
    assert all(model_flags(exclusive["components"]["textcat"]["model"]))
    if not is_multi_label_config(config):  # an exclusive config comes back as it was
        back = dict(exclusive["components"]["textcat"])
        orig = dict(config["components"]["textcat"])
        assert back.pop("threshold") == 0.5 and orig.pop("threshold") == 0.0
        assert back == orig
        assert switch_label_kind(config, False)[1] == []  # nothing to change
    assert config["components"]["textcat"] == read(path)["components"]["textcat"]


def test_a_switched_config_builds_the_multi_label_component():
    nlp_config, changes = switch_label_kind(
        read(Path("configs/stock_textcat.cfg")), True
    )
    assert "components.textcat.factory: 'textcat' -> 'textcat_multilabel'" in changes
    nlp = spacy.util.load_model_from_config(nlp_config, auto_fill=True)
    assert isinstance(nlp.get_pipe("textcat"), MultiLabel_TextCategorizer)
    back, _ = switch_label_kind(nlp_config, False)
    pipe = spacy.util.load_model_from_config(back, auto_fill=True).get_pipe("textcat")
    assert isinstance(pipe, TextCategorizer)
    assert not isinstance(pipe, MultiLabel_TextCategorizer)


def test_a_named_scorer_follows_the_kind():
    config = Config().from_str(
        """
        [nlp]
        lang = "en"
        pipeline = ["textcat"]
        [components]
        [components.textcat]
        factory = "textcat"
        [components.textcat.scorer]
        @scorers = "spacy.textcat_scorer.v2"
        """
    )
    multi, _ = switch_label_kind(config, True)
    assert multi["components"]["textcat"]["scorer"] == {
        "@scorers": "spacy.textcat_multilabel_scorer.v2"
    }


def test_a_config_without_a_text_classifier_is_refused(tmp_path):
    (tmp_path / "ner.cfg").write_text(
        '[nlp]\nlang = "en"\npipeline = ["ner"]\n\n[components]\n\n'
        '[components.ner]\nfactory = "ner"\n'
    )
    (tmp_path / "bad.cfg").write_text("[nlp\nlang = en\n")
    with pytest.raises(ValueError, match="no text classifier in the config"):
        switch_label_kind(read(tmp_path / "ner.cfg"), True)
    result = CliRunner().invoke(app, ["configs", str(tmp_path), str(tmp_path / "out")])
    assert result.exit_code == 1
    assert f"✘ {tmp_path / 'bad.cfg'}: not a readable spaCy config" in result.output
    assert not (tmp_path / "out").exists()  # every config read before any write


@pytest.mark.parametrize(
    "value,expected",
    [("true", True), ("True", True), ("1", True), ("False", False), ("no", False)],
)
def test_parse_bool_reads_what_weasel_passes(value, expected):
    assert parse_bool(value, "--multi-label") is expected


def test_cli_writes_each_config_and_refuses_to_overwrite_a_changed_one(tmp_path):
    runner = CliRunner()
    out = tmp_path / "configs"
    args = ["configs", "configs", str(out), "--multi-label", "true"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in CONFIGS]
    for path in out.iterdir():
        assert is_multi_label_config(read(path)), path.name
    # a rerun writes the same bytes; a differing file needs --overwrite
    before = (out / "teacher_bert.cfg").read_bytes()
    assert runner.invoke(app, args).exit_code == 0
    assert (out / "teacher_bert.cfg").read_bytes() == before
    result = runner.invoke(app, ["configs", "configs", str(out)])  # exclusive now
    assert result.exit_code == 1 and "pass --overwrite" in result.output
    assert (out / "teacher_bert.cfg").read_bytes() == before
    result = runner.invoke(app, ["configs", "configs", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert not is_multi_label_config(read(out / "teacher_bert.cfg"))
    # the output folder is the input folder: refused before anything is written
    result = runner.invoke(app, ["configs", str(out), str(out), "--overwrite"])
    assert result.exit_code == 1 and "is an input of this command" in result.output


def test_write_kind_configs_reports_the_changes(tmp_path):
    changes = write_kind_configs(
        [Path("configs/student_bow_multilabel.cfg"), Path("configs/student_bow.cfg")],
        tmp_path,
        True,
    )
    assert changes["student_bow_multilabel.cfg"] == []
    assert (
        "components.textcat.model.exclusive_classes: True -> False"
        in (changes["student_bow.cfg"])
    )
    with pytest.raises(ValueError, match="takes true or false"):
        parse_bool("maybe", "--multi-label")
