"""``spacy_kd students`` / ``train_students``: argument checks, a real student trained
and skipped on the rerun, and a failing student stops the grid."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from pseudo_corpus import REPO, write_corpus
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.distillation.students import sole_teacher, train_students
from spacy_kd.distillation.thresholds import saved_thresholds
from spacy_kd.errors import DataError
from spacy_kd.label_kind import write_kind_configs

CONFIG = REPO / "configs" / "student_bow.cfg"


@pytest.fixture
def inputs(tmp_path):
    """Existing (empty) gold and dev files and a pseudo folder: enough for the checks
    and for `spacy train` to reject a bad override."""
    (tmp_path / "g.spacy").write_bytes(b"")
    (tmp_path / "d.spacy").write_bytes(b"")
    (tmp_path / "pseudo").mkdir()
    return tmp_path


def invoke(out: Path, *args: str):
    inputs = out.parent
    base = ["students", str(out), "--gold", str(inputs / "g.spacy"),
            "--dev", str(inputs / "d.spacy"), "--pseudo", str(inputs / "pseudo"),
            "--configs", str(CONFIG), "--no-baselines"]  # fmt: skip
    return CliRunner().invoke(app, [*base, *args])


def test_bad_arguments_are_named(inputs):
    out = inputs / "students"
    for args, code, message in (
        (["--jobs", "0"], 1, "jobs: at least 1"),
        (["--threads", "-1"], 1, "threads: at least 0"),
        (["--targets", "hard,fuzzy"], 1, "targets: unknown ['fuzzy']"),
        (["--caps", "3000,-1"], 1, "caps: integers >= 0"),
        (["--caps", "3000,x"], 2, "comma-separated integers"),
        (["--teachers", ","], 1, "teachers: give at least one"),
    ):
        result = invoke(out, *args)
        assert result.exit_code == code and message in result.output, (
            args,
            result.output,
        )
    assert not (out / "students.json").exists()


def test_config_names_resolve_in_configs_and_architectures_are_unique(inputs):
    out = inputs / "students"
    with pytest.raises(DataError, match="student_nope.cfg: config not found"):
        train_students(out, inputs / "g.spacy", inputs / "d.spacy", inputs / "pseudo",
                       configs=["student_nope"])  # fmt: skip
    with pytest.raises(ValueError, match="one architecture name"):
        train_students(out, inputs / "g.spacy", inputs / "d.spacy", inputs / "pseudo",
                       configs=[CONFIG, CONFIG])  # fmt: skip


def test_missing_inputs_are_data_errors(inputs):
    out = inputs / "students"
    with pytest.raises(DataError, match="nope.cfg: config not found"):
        train_students(out, inputs / "g.spacy", inputs / "d.spacy", inputs / "pseudo",
                       configs=[inputs / "nope.cfg"])  # fmt: skip
    with pytest.raises(DataError, match="annotate's output folder not found"):
        train_students(out, inputs / "g.spacy", inputs / "d.spacy", inputs / "none",
                       configs=[CONFIG])  # fmt: skip
    result = CliRunner().invoke(
        app,
        ["students", str(out), "--gold", str(inputs / "missing.spacy"),
         "--dev", str(inputs / "d.spacy"), "--pseudo", str(inputs / "pseudo"),
         "--configs", str(CONFIG)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "missing.spacy: gold data not found" in result.output


def test_failed_students_are_named_with_their_logs(inputs):
    # two students at once; spacy train rejects the extra override, so both fail
    out = inputs / "students"
    result = invoke(out, "--teachers", "teacher_bert", "--targets", "hard,soft",
                    "--jobs", "2", "--training.max_steps", "many")  # fmt: skip
    assert result.exit_code == 1, result.output
    for name in ("student_bow_bert_hard_all", "student_bow_bert_soft_all"):
        assert f"{name}: spacy train failed" in result.output, result.output
        assert (out / "logs" / f"{name}.log").stat().st_size > 0
        assert not (out / name / "training.json").exists()
    assert not (out / "students.json").exists()
    # the log says what spacy train rejected
    log = (out / "logs" / "student_bow_bert_hard_all.log").read_text()
    assert "max_steps" in log, log[-2000:]


def test_student_and_baseline_are_trained_listed_and_skipped_on_rerun(tmp_path):
    gold, pseudo, _ = write_corpus(tmp_path, n_gold=16)
    out = tmp_path / "students"
    args = ["students", str(out), "--gold", str(gold), "--dev", str(gold),
            "--pseudo", str(pseudo), "--configs", str(CONFIG), "--teachers", "t",
            "--targets", "soft", "--caps", "0", "--temperature", "2",
            "--training.max_steps", "4", "--training.eval_frequency", "2",
            "--nlp.batch_size", "8"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    listing = json.loads((out / "students.json").read_text())
    baseline, entry = listing
    assert (baseline["name"], baseline["role"], baseline["arch"]) == (
        "baseline_bow",
        "baseline",
        "bow",
    )
    base_args = baseline["overrides"]
    assert base_args[base_args.index("--paths.pseudo") + 1] == "null"
    assert "--distillation.teachers" not in base_args
    assert (Path(baseline["path"]) / "meta.json").exists()
    assert entry["name"] == "student_bow_t_soft_all"
    assert (entry["role"], entry["baseline"]) == ("student", "baseline_bow")
    assert (entry["teacher"], entry["target"], entry["cap"]) == ("t", "soft", 0)
    assert entry["path"] == str(out / "student_bow_t_soft_all" / "model-best")
    overrides = entry["overrides"]
    for key, value in (
        ("--distillation.teachers", '["t"]'),
        ("--distillation.hard", "false"),
        ("--distillation.temperature", "2.0"),
        ("--training.max_steps", "4"),
    ):
        assert overrides[overrides.index(key) + 1] == value, overrides
    assert entry["seconds"] > 0
    assert (Path(entry["path"]) / "meta.json").exists()
    # the same grid again: nothing is trained, the listing is the same
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "student_bow_t_soft_all: already trained" in result.output
    assert "baseline_bow: already trained" in result.output
    assert json.loads((out / "students.json").read_text()) == listing


def test_multi_label_students_from_switched_configs_ship_tuned_thresholds(tmp_path):
    """--config-dir: the configs `spacy_kd configs` switched to multi-label; every
    model trained gets per-label thresholds tuned on dev, applied by spacy.load."""
    gold, pseudo, _ = write_corpus(tmp_path, n_gold=16, multi_label=True)
    configs = tmp_path / "configs"
    write_kind_configs([CONFIG], configs, True)
    out = tmp_path / "students"
    result = CliRunner().invoke(
        app,
        ["students", str(out), "--gold", str(gold), "--dev", str(gold),
         "--pseudo", str(pseudo), "--configs", "student_bow", "--config-dir",
         str(configs), "--teachers", "t", "--targets", "hard",
         "--training.max_steps", "4", "--training.eval_frequency", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listing = json.loads((out / "students.json").read_text())
    assert [e["name"] for e in listing] == ["baseline_bow", "student_bow_t_hard_all"]
    for entry in listing:
        assert entry["config"] == str(configs / "student_bow.cfg")
        assert f"{entry['name']}: 4 thresholds tuned on" in result.output
        nlp = spacy.load(entry["path"])
        assert nlp.pipe_names == ["textcat", "label_thresholds"]
        assert nlp.get_pipe_meta("textcat").factory == "textcat_multilabel"
        assert sorted(saved_thresholds(nlp)) == sorted(nlp.get_pipe("textcat").labels)


def test_prior_from_ships_a_label_prior_in_every_exclusive_model(tmp_path):
    """--prior-from: students and baselines alike get kd_label_prior, fitted on the
    unlabelled docs, and meta.json's dev score is the corrected pipeline's."""
    gold, pseudo, _ = write_corpus(tmp_path, n_gold=16)
    unlabelled = sorted(pseudo.glob("*.spacy"))[0]
    out = tmp_path / "students"
    result = CliRunner().invoke(
        app,
        ["students", str(out), "--gold", str(gold), "--dev", str(gold),
         "--pseudo", str(pseudo), "--configs", str(CONFIG), "--teachers", "t",
         "--targets", "soft", "--prior-from", str(unlabelled),
         "--training.max_steps", "4", "--training.eval_frequency", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    listing = json.loads((out / "students.json").read_text())
    assert [e["name"] for e in listing] == ["baseline_bow", "student_bow_t_soft_all"]
    for entry in listing:
        assert f"{entry['name']}: 4 label-prior weights fitted on" in result.output
        nlp = spacy.load(entry["path"])
        assert nlp.pipe_names == ["textcat", "label_prior"]
        assert sorted(nlp.get_pipe("label_prior").weights) == sorted(
            nlp.get_pipe("textcat").labels
        )
        record = nlp.meta["spacy_kd_label_prior"]
        assert record["unlabelled"] == str(unlabelled)
        assert nlp.meta["performance"]["cats_macro_f"] == record["dev_macro_f_after"]
        doc = nlp("a short test about hockey")
        assert sum(doc.cats.values()) == pytest.approx(1.0)


def test_ensemble_students_of_a_one_teacher_mix_are_copies(tmp_path):
    """Annotate weights all on teacher b: the ensemble's targets are b's to the last
    bit. Trained, the two students are the same model; so, with the run's
    summary.json saying so, the grid copies b's student instead of training the
    ensemble's again."""
    gold, pseudo, _ = write_corpus(tmp_path, n_gold=16, teachers={"a": 0.0, "b": 1.0})

    def run(out):
        result = CliRunner().invoke(
            app,
            ["students", str(out), "--gold", str(gold), "--dev", str(gold),
             "--pseudo", str(pseudo), "--configs", str(CONFIG), "--no-baselines",
             "--teachers", "b,ensemble", "--targets", "soft",
             "--training.max_steps", "4", "--training.eval_frequency", "2"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        entries = json.loads((out / "students.json").read_text())
        listing = {e["name"]: e for e in entries}
        assert list(listing) == [f"student_bow_{t}_soft_all" for t in ("b", "ensemble")]
        weights = [(Path(e["path"]) / "textcat" / "model").read_bytes()
                   for e in entries]  # fmt: skip
        return result.output, listing, weights

    # no summary.json: both are trained, and come out the same
    output, listing, (b, ensemble) = run(tmp_path / "trained")
    assert output.count(" -m spacy train ") == 2 and b == ensemble
    assert "copied_from" not in listing["student_bow_ensemble_soft_all"]
    # the run's summary: all the weight on b, so the ensemble's student is b's
    summary = {"teachers": ["a", "b"], "weights": [0.0, 1.0]}
    (pseudo / "summary.json").write_text(json.dumps(summary))
    assert sole_teacher(pseudo) == "b"
    out = tmp_path / "copied"
    output, listing, (b2, ensemble2) = run(out)
    assert output.count(" -m spacy train ") == 1 and "copied from it" in output
    entry = listing["student_bow_ensemble_soft_all"]
    assert entry["copied_from"] == "student_bow_b_soft_all" and entry["seconds"] == 0
    assert b2 == ensemble2 == b
    assert entry["path"] == str(out / "student_bow_ensemble_soft_all" / "model-best")
    # the rerun: nothing trained or copied again
    output, again, _ = run(out)
    assert output.count("already trained") == 2 and "copied from" not in output
    assert again == listing
    # a real mix: no sole teacher
    summary["weights"] = [0.3, 0.7]
    (pseudo / "summary.json").write_text(json.dumps(summary))
    assert sole_teacher(pseudo) is None


def test_python_m_spacy_kd_students_help():
    result = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "students", "--help"],
        capture_output=True, text=True, cwd=REPO, env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for option in ("--gold", "--pseudo", "--configs", "--jobs", "--threads"):
        assert option in result.stdout
