"""``python -m spacy_kd report``: evaluate every model of a training folder (thin
wrapper)."""

from pathlib import Path
from typing import Dict, List, Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import user_errors


def _progress(line: str) -> None:
    typer.echo(f"ℹ {line}", err=True)


def _speed_targets(value: str) -> Dict[str, float]:
    targets = {}
    for item in filter(None, (v.strip() for v in value.split(","))):
        name, _, factor = item.partition("=")
        try:
            targets[name.strip()] = float(factor)
        except ValueError:
            raise typer.BadParameter(
                f"NAME=FACTOR pairs, comma-separated; got {item!r}",
                param_hint="--speed-targets",
            ) from None
    return targets


def _named_paths(values: List[str], option: str) -> Dict[str, Path]:
    """NAME=PATH values of a repeatable option, by name. A value may hold several,
    comma-separated (as project.yml passes a var); empty ones are skipped."""
    named: Dict[str, Path] = {}
    items = [item.strip() for value in values for item in value.split(",")]
    for value in filter(None, items):
        name, sep, path = (part.strip() for part in value.partition("="))
        if not sep or not name or not path:
            raise typer.BadParameter(f"NAME=PATH, got {value!r}", param_hint=option)
        if name == "test" or name in named:
            why = "the main test set's name" if name == "test" else "given twice"
            raise typer.BadParameter(f"{name!r} is {why}", param_hint=option)
        named[name] = Path(path)
    return named


@app.command("report")
def report_cli(
    training_dir: Path = typer.Argument(
        ...,
        help="A profile's folder: stock, baseline, teacher_*, students",
        exists=True,
    ),
    data: Path = typer.Option(
        ..., "--data", "-d", help="Labelled test data: .spacy (DocBin), .jsonl or .csv"
    ),
    sample: int = typer.Option(
        0,
        "--sample",
        help="Score a seeded random sample of this many docs of each test set (0: all)",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample and the speed docs"),
    reference: Optional[str] = typer.Option(
        None,
        "--reference",
        "-r",
        help="A model's name to measure every model's agreement with",
    ),
    speed_targets: str = typer.Option(
        "",
        "--speed-targets",
        help="Student docs/s targets as multiples of teachers', e.g. teacher_elmo=25",
    ),
    n_threads: int = typer.Option(
        1, "--n-threads", help="Threads of every speed run (OMP/MKL/torch)"
    ),
    n_speed_docs: int = typer.Option(
        500, "--n-speed-docs", help="Number of test docs for the speed runs"
    ),
    batch_size: int = typer.Option(128, "--batch-size", help="Batch size of nlp.pipe"),
    extra_test: List[str] = typer.Option(
        [],
        "--extra-test",
        metavar="NAME=PATH",
        help="Another labelled test set (e.g. another domain) that every "
        "model is scored on (accuracy only); repeatable, or comma-separated",
    ),
    label_map: List[str] = typer.Option(
        [],
        "--label-map",
        metavar="NAME=MAPPING.json",
        help="A JSON object from the labels of extra test set "
        "NAME to the models' labels (null: drop the label, and docs left without "
        "one); repeatable, or comma-separated",
    ),
    pseudo: Optional[Path] = typer.Option(
        None,
        "--pseudo",
        metavar="DIR",
        help="The annotate run's folder, for the teachers' temperatures and "
        "weights (default: TRAINING_DIR/pseudo, if there)",
    ),
    dev: Optional[Path] = typer.Option(
        None,
        "--dev",
        metavar="PATH",
        help="Labelled dev data to score the teachers' ensemble on (default: "
        "TRAINING_DIR/split/dev.spacy, if there)",
    ),
    labelled: Optional[Path] = typer.Option(
        None,
        "--labelled",
        metavar="PATH",
        help="The gold training docs: each exclusive teacher is also scored with "
        "the label-prior correction the students get, fitted to their label shares "
        "(default: TRAINING_DIR/split/labelled.spacy, if there)",
    ),
) -> None:
    """Evaluate every model of a training folder and check the talk's targets.

    Models: stock, baseline, every teacher_*/model-best and the students in
    students/students.json; with the annotate run, the teachers' ensemble and
    (exclusive labels) each teacher with the label prior; a tokenizer-only
    pipeline for speed. Writes report.json, report.md (with the
    teachers' calibration and the targets) and report.png in TRAINING_DIR.
    """
    from spacy_kd.evaluation.training_report import report_training

    targets = _speed_targets(speed_targets)
    extra = _named_paths(extra_test, "--extra-test")
    maps = _named_paths(label_map, "--label-map")
    with user_errors(ImportError, ValueError):
        report, section = report_training(
            training_dir, data, sample=sample, seed=seed, reference=reference,
            speed_targets=targets, n_threads=n_threads, n_speed_docs=n_speed_docs,
            batch_size=batch_size, progress=_progress, extra_tests=extra,
            label_maps=maps, pseudo=pseudo, dev=dev, labelled=labelled,
        )  # fmt: skip
    typer.echo(report.to_text())
    typer.echo(section)
    msg.good(f"Report written to {training_dir}/report.md, .json and .png")
