"""The distillation callback, its schedules, and the console logger."""

import io
import json
import re
import subprocess
import sys

import pytest
import spacy
from spacy.util import registry
from thinc.api import Config

from spacy_kd.distillation.callbacks import (
    create_distillation_callback,
    linear_schedule,
)
from spacy_kd.distillation.loggers import create_console_logger

# --- the callback -----------------------------------------------------------------


def student_pipeline(multi_label=False, name="textcat"):
    nlp = spacy.blank("en")
    nlp.add_pipe("kd_textcat_multilabel" if multi_label else "kd_textcat", name=name)
    return nlp


def test_callback_drives_temperature_and_alpha_by_step():
    nlp = student_pipeline()
    pipe = nlp.get_pipe("textcat")
    callback = create_distillation_callback(
        temperature=linear_schedule(start=5.0, end=1.0, steps=4), alpha=0.2
    )
    seen = []
    for step in range(7):
        callback(nlp, {"step": step, "epoch": 0})
        seen.append((pipe.temperature, pipe.alpha))
    assert seen == [
        (5.0, 0.2),
        (4.0, 0.2),
        (3.0, 0.2),
        (2.0, 0.2),
        (1.0, 0.2),
        (1.0, 0.2),
        (1.0, 0.2),
    ]


def test_callback_from_config_with_a_thinc_schedule():
    config = Config().from_str(
        """
        [cb]
        @callbacks = "spacy-kd.distillation.v1"
        components = ["second"]

        [cb.alpha]
        @schedules = "spacy-kd.linear.v1"
        start = 0.0
        end = 1.0
        steps = 2

        [cb.temperature]
        @schedules = "decaying.v1"
        base_rate = 8.0
        decay = 1.0
        """
    )
    callback = registry.resolve(config)["cb"]
    nlp = student_pipeline()
    nlp.add_pipe("kd_textcat", name="second")
    for step in range(3):
        callback(nlp, {"step": step, "epoch": 0})
    second, first = nlp.get_pipe("second"), nlp.get_pipe("textcat")
    assert second.alpha == 1.0
    assert second.temperature == pytest.approx(
        8.0 / 3.0
    )  # decaying: base / (1 + decay * t)
    assert (first.temperature, first.alpha) == (1.0, 0.5)  # not driven


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"temperature": 0.0}, "temperature must be > 0, got 0.0 .at step 0"),
        ({"alpha": 1.2}, r"alpha must be in \[0, 1\], got 1.2"),
        (
            {"temperature": linear_schedule(4.0, 0.0, 10)},
            "an end of its spacy-kd.linear.v1 schedule is 0.0",
        ),
        (
            {"alpha": linear_schedule(0.5, -0.5, 10)},
            "an end of its spacy-kd.linear.v1 schedule is -0.5",
        ),
        ({"temperature": iter([])}, "the temperature schedule is empty"),
        ({"temperature": "hot"}, "must be a number or a schedule"),
    ],
)
def test_callback_refuses_bad_values_before_training(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_distillation_callback(**kwargs)


def test_callback_refuses_a_schedule_that_goes_bad_and_unknown_components():
    callback = create_distillation_callback(temperature=iter([2.0, 1.0, -1.0]))
    nlp = student_pipeline()
    callback(nlp, {"step": 0, "epoch": 0})
    with pytest.raises(ValueError, match="gave -1.0 at step 2"):
        callback(nlp, {"step": 2, "epoch": 0})
    with pytest.raises(ValueError, match="has no student component"):
        create_distillation_callback(alpha=0.5)(
            spacy.blank("en"), {"step": 0, "epoch": 0}
        )
    with pytest.raises(
        ValueError, match=r"\['nope'\] are not enabled student components"
    ):
        create_distillation_callback(components=["nope"])(nlp, {"step": 0, "epoch": 0})


def test_linear_schedule_resolves_in_a_fresh_interpreter():
    """``spacy-kd.linear.v1`` is a thinc_schedules entry point (not covered by the
    spacy_* registry test): a config names it without importing spacy_kd."""
    code = (
        "from spacy.util import registry\n"
        "from thinc.api import Config\n"
        'cfg = Config().from_str(\'[s]\\n@schedules = "spacy-kd.linear.v1"\\n'
        "start = 3.0\\nend = 1.0\\nsteps = 2')\n"
        "s = registry.resolve(cfg)['s']\n"
        "print([next(s) for _ in range(4)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[3.0, 2.0, 1.0, 1.0]"


# --- the logger -------------------------------------------------------------------


def test_logger_adds_gold_and_distill_columns(tmp_path):
    nlp = student_pipeline()
    stdout = io.StringIO()
    log_file = tmp_path / "log.jsonl"
    log_step, finalize = create_console_logger(output_file=log_file)(
        nlp, stdout, io.StringIO()
    )
    info = {
        "epoch": 1, "step": 200, "score": 0.5, "other_scores": {"cats_score": 0.5},
        "losses": {"textcat": 3.0, "textcat_gold": 1.25, "textcat_distill": 1.75},
    }  # fmt: skip
    log_step(info)
    log_step(None)
    finalize()
    lines = stdout.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("E "))
    header, _, row = lines[start : start + 3]
    assert re.split(r"\s{2,}", header.strip()) == [
        "E",
        "#",
        "LOSS TEXTCAT",
        "LOSS GOLD",
        "LOSS DISTILL",
        "CATS_SCORE",
        "SCORE",
    ]
    assert row.split() == ["1", "200", "3.00", "1.25", "1.75", "50.00", "0.50"]
    logged = json.loads(log_file.read_text().splitlines()[0])
    assert logged["losses"] == {"textcat": 3.0, "gold": 1.25, "distill": 1.75}
