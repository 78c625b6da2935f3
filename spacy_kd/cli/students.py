"""``python -m spacy_kd students``: train the student grid (thin wrapper)."""

import json
from pathlib import Path
from typing import List, Optional

import typer
from thinc.api import Config
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import user_errors
from spacy_kd.distillation.students import (
    DEFAULT_CONFIG,
    ENSEMBLE,
    TrainingFailed,
    resolve_config,
    train_students,
)
from spacy_kd.evaluation.prior import save_prior_correction
from spacy_kd.evaluation.thresholds import save_tuned_thresholds
from spacy_kd.label_kind import is_multi_label_config


def _names(value: str) -> List[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _caps(value: str) -> List[int]:
    try:
        return [int(c) for c in _names(value)]
    except ValueError:
        raise typer.BadParameter(
            f"comma-separated integers, got {value!r}", param_hint="--caps"
        ) from None


@app.command(
    "students",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def students_cli(
    ctx: typer.Context,  # its args: extra `spacy train` overrides
    output_dir: Path = typer.Argument(..., help="Folder for the students"),
    gold: Path = typer.Option(..., "--gold", help="Labelled .spacy data"),
    dev: Path = typer.Option(..., "--dev", help="Dev .spacy data"),
    pseudo: Path = typer.Option(..., "--pseudo", help="annotate's output folder"),
    teachers: str = typer.Option(
        ENSEMBLE,
        "--teachers",
        help=f"Comma-separated teacher names in the shards' records, or {ENSEMBLE}",
    ),
    targets: str = typer.Option("hard,soft", "--targets", help="hard and/or soft"),
    caps: str = typer.Option(
        "0", "--caps", help="Pseudo-labelled docs per student, comma-separated (0: all)"
    ),
    configs: str = typer.Option(
        str(DEFAULT_CONFIG),
        "--configs",
        "-c",
        help="Comma-separated student configs, one per architecture (paths, or "
        "names in configs/ such as student_tfidf)",
    ),
    config_dir: Optional[Path] = typer.Option(
        None,
        "--config-dir",
        help="Where config names are looked up (default: configs/), e.g. the "
        "folder spacy_kd configs wrote",
    ),
    no_baselines: bool = typer.Option(
        False, "--no-baselines", help="Skip the gold-only baseline of each config"
    ),
    temperature: Optional[float] = typer.Option(
        None, "--temperature", help="Distillation temperature (default: the config's)"
    ),
    alpha: Optional[float] = typer.Option(
        None, "--alpha", help="Weight of the gold loss (default: the config's)"
    ),
    seed: int = typer.Option(0, "--seed"),
    jobs: int = typer.Option(1, "--jobs", help="Students trained at once"),
    threads: int = typer.Option(
        0,
        "--threads",
        help="Threads in all, shared by the jobs (0: leave the environment's)",
    ),
    prior_from: Optional[Path] = typer.Option(
        None,
        "--prior-from",
        help="Unlabelled .spacy docs (the pool): fit each exclusive model's "
        "label-prior correction there, towards the --gold label shares, and ship "
        "it in the model (kd_label_prior)",
    ),
) -> None:
    """Train a student per config x teacher x target x pool cap, and each config's
    gold-only baseline, with `spacy train`.

    The students are listed in OUTPUT_DIR/students.json; finished ones are not
    trained again. Extra arguments go to `spacy train`, e.g. --training.max_steps 1000.
    Multi-label models get per-label thresholds tuned on the dev data, saved in the
    pipeline (its kd_label_thresholds component), so spacy.load applies them. With
    --prior-from, exclusive models (students and baselines alike) get a label-prior
    correction fitted on those unlabelled docs (its kd_label_prior component): a
    student inherits its teacher's bias in how often each label is given, and this
    moves its predictions back to the gold labels' shares.
    """
    with user_errors(ValueError, TrainingFailed):
        names = _names(configs)
        if config_dir is not None:
            names = [str(resolve_config(n, config_dir)) for n in names]
        path = train_students(
            output_dir, gold, dev, pseudo,
            teachers=_names(teachers), targets=_names(targets), caps=_caps(caps),
            configs=names, baselines=not no_baselines,
            temperature=temperature, alpha=alpha, seed=seed,
            jobs=jobs, threads=threads, overrides=ctx.args,
        )  # fmt: skip
        listing = json.loads(path.read_text(encoding="utf-8"))
        for entry in listing:
            if multi_label_pipeline(entry["path"]):
                found = save_tuned_thresholds(entry["path"], dev)
                msg.info(
                    f"{entry['name']}: {len(found or {})} thresholds tuned on {dev}"
                )
            elif prior_from is not None:
                weights = save_prior_correction(
                    entry["path"], prior_from, gold, dev=dev
                )
                msg.info(
                    f"{entry['name']}: {len(weights or {})} label-prior weights "
                    f"fitted on {prior_from}; dev macro-F1 rescored"
                )
    msg.good(f"Students listed in {path}")


def multi_label_pipeline(path: str) -> bool:
    """Whether a trained pipeline's config holds a multi-label classifier."""
    config = Config().from_disk(Path(path) / "config.cfg", interpolate=False)
    return is_multi_label_config(config)
