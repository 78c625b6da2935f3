"""spacy_kd/distillation/students.py: argument checks, and a failing student stops the grid."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parent.parent
MODULE = "spacy_kd.distillation.students"


def run(out: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", MODULE, str(out), "--gold", "g.spacy", "--dev", "d.spacy",
           "--pseudo", "pseudo", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, cwd=out.parent)


def test_bad_arguments_are_named(tmp_path):
    for args, message in (
        (["--jobs", "0"], "--jobs: at least 1"),
        (["--threads", "-1"], "--threads: at least 0"),
        (["--targets", "hard,fuzzy"], "--targets: unknown ['fuzzy']"),
        (["--caps", "3000,x"], "--caps: comma-separated integers"),
    ):
        result = run(tmp_path / "students", *args)
        assert result.returncode != 0 and message in result.stderr, (
            args,
            result.stderr,
        )
    assert not (tmp_path / "students" / "students.json").exists()


def test_failed_students_are_named_with_their_logs(tmp_path):
    # two students at once; spacy train rejects the override, so both fail
    out = tmp_path / "students"
    result = run(out, "--teachers", "teacher_bert", "--targets", "hard,soft", "--jobs", "2",
                 "--", "--training.max_steps", "many")  # fmt: skip
    assert result.returncode != 0
    for name in ("student_bert_hard_all", "student_bert_soft_all"):
        assert f"{name}: spacy train failed" in result.stderr, result.stderr
        assert (out / "logs" / f"{name}.log").stat().st_size > 0
        assert not (out / name / "training.json").exists()
    assert not (out / "students.json").exists()
    # the log says what spacy train rejected
    log = (out / "logs" / "student_bert_hard_all.log").read_text()
    assert "max_steps" in log, log[-2000:]
