"""``python -m spacy_kd annotate``: teachers pseudo-label text into DocBin shards."""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from spacy_kd.annotate.manifest import run_files
from spacy_kd.annotate.merge import merge_runs
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors, write_summary
from spacy_kd.util import check_outputs


def _parse_weights(value: Optional[str]) -> Optional[List[float]]:
    if value is None:
        return None
    try:
        return [float(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"--weights takes comma-separated numbers, got {value!r}"
        ) from None


def _weights_text(summary) -> str:
    """``teacher=weight, ...`` of an annotate or merged run's summary."""
    return ", ".join(f"{n}={w:.2f}" for n, w in zip(summary.teachers, summary.weights))


@app.command("annotate")
def annotate_cli(
    paths: List[Path] = typer.Argument(
        ...,
        help="TEACHER [TEACHER ...] INPUT OUTPUT: teacher pipelines, input text, "
        "output folder",
    ),
    weights: Optional[str] = typer.Option(
        None, "--weights", help="Comma-separated weight per teacher"
    ),
    weights_from_dev: Optional[Path] = typer.Option(
        None,
        "--weights-from-dev",
        help="Labelled dev data (.spacy/.jsonl) to fit the weights (and, with "
        "--calibrate, each teacher's temperature) on",
    ),
    calibrate: bool = typer.Option(
        True,
        "--calibrate/--no-calibrate",
        help="With --weights-from-dev: annotate with each teacher's probabilities "
        "at its temperature fitted on dev (least NLL)",
    ),
    hard: bool = typer.Option(
        False, "--hard", help="Write 0/1 labels instead of probabilities"
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="Multi-label threshold for --hard"
    ),
    min_confidence: float = typer.Option(
        0.0, "--min-confidence", help="Drop docs whose confidence is below this"
    ),
    limit: int = typer.Option(
        0, "--limit", help="Annotate at most this many input docs (0: all)"
    ),
    batch_size: int = typer.Option(64, "--batch-size"),
    n_process: int = typer.Option(
        1,
        "--n-process",
        help="Processes for nlp.pipe (with --engine ray: actors); -1: one per CPU",
    ),
    shard_size: int = typer.Option(
        1000, "--shard-size", help="Input docs per output shard"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    overwrite: bool = overwrite_option(),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local: this process; ray: --n-process Ray actors (needs "
        "pip install spacy_kd[ray]), the same shards",
    ),
    address: Optional[str] = typer.Option(
        None,
        "--address",
        help="With --engine ray: join this Ray cluster (auto, host:port) instead "
        "of starting one on this machine",
    ),
    threads: int = typer.Option(
        0,
        "--threads",
        help="torch threads per worker (0: torch's default; with --engine ray, 1)",
    ),
    sort_by_length: bool = typer.Option(
        True,
        "--sort-by-length/--no-sort-by-length",
        help="Feed each shard's docs to the teachers shortest first (less padding "
        "in a batch); the output keeps the input's order",
    ),
) -> None:
    """Run teachers over unlabelled text (JSONL, CSV, .txt, .spacy); write soft labels.

    Resumable: rerun the same command after an interruption and finished shards
    are kept. The output folder gets shard-NNNNN.spacy files, manifest.json and
    summary.json; one that holds another run's files is refused unless --overwrite.
    """
    if len(paths) < 3:
        raise typer.BadParameter("expected TEACHER [TEACHER ...] INPUT OUTPUT")
    *teachers, input_path, output_dir = paths
    with user_errors():
        summary = annotate(
            teachers, input_path, output_dir,
            weights=_parse_weights(weights), weights_from_dev=weights_from_dev,
            hard=hard, threshold=threshold, min_confidence=min_confidence,
            limit=limit, batch_size=batch_size, n_process=n_process,
            shard_size=shard_size, calibrate=calibrate, progress=progress,
            overwrite=overwrite, engine=engine, address=address, threads=threads,
            sort_by_length=sort_by_length,
        )  # fmt: skip
    msg.good(
        f"Annotated {summary.n_written} docs into {summary.n_shards} shards in "
        f"{output_dir} ({summary.docs_per_second:.1f} docs/s; "
        f"{summary.n_shards_resumed} shards resumed)"
    )
    if summary.n_dropped_low_confidence:
        msg.warn(
            f"Dropped {summary.n_dropped_low_confidence} docs below confidence "
            f"{min_confidence}"
        )
    if summary.n_empty_skipped:
        msg.warn(f"Skipped {summary.n_empty_skipped} empty texts")
    weights_text = _weights_text(summary)
    msg.info(f"Teachers: {weights_text}; mean confidence {summary.mean_confidence:.3f}")
    for pair, rate in summary.teacher_agreement.items():
        msg.info(f"Agreement {pair.replace('|', ' vs ')}: {rate:.3f}")


@app.command("annotate-merge")
def annotate_merge_cli(
    paths: List[Path] = typer.Argument(
        ...,
        help="RUN RUN [RUN ...] OUTPUT: annotate output folders of different "
        "teachers over the same input, the merged run's folder",
    ),
    weights: Optional[str] = typer.Option(
        None, "--weights", help="Comma-separated weight per teacher of all the runs"
    ),
    weights_from_dev: Optional[Path] = typer.Option(
        None,
        "--weights-from-dev",
        help="Labelled dev data (.spacy/.jsonl) to fit the weights on (at the "
        "temperatures of the runs, fitted on this same dev data)",
    ),
    batch_size: int = typer.Option(64, "--batch-size"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    overwrite: bool = overwrite_option(),
) -> None:
    """Merge annotate runs of different teachers over one input into one run.

    Each teacher's probabilities are kept as they are (those of a joint run of all
    the teachers); the combined labels are recomputed with the weights. Resumable,
    like annotate.
    """
    if len(paths) < 3:
        raise typer.BadParameter("expected RUN RUN [RUN ...] OUTPUT")
    *runs, output_dir = paths
    with user_errors():
        summary = merge_runs(
            runs, output_dir, weights=_parse_weights(weights),
            weights_from_dev=weights_from_dev, batch_size=batch_size,
            progress=progress, overwrite=overwrite,
        )  # fmt: skip
    weights_text = _weights_text(summary)
    msg.good(
        f"Merged {len(runs)} runs into {summary.n_written} docs in "
        f"{summary.n_shards} shards in {output_dir} ({summary.n_shards_resumed} "
        f"shards resumed); teachers: {weights_text}"
    )


@app.command("score-pseudo")
def score_pseudo_cli(
    annotated_dir: Path = typer.Argument(..., help="An annotate output folder"),
    gold: Path = typer.Argument(
        ..., help="The same docs with their true labels (pool_gold.spacy)"
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="Multi-label decision threshold"
    ),
    output: Optional[Path] = typer.Option(
        None, "--output", help="Write the scores as JSON here"
    ),
) -> None:
    """Accuracy of pseudo-labels (combined and per teacher) against true labels."""
    from spacy_kd.evaluation.pseudo_quality import score_pseudo_labels

    with user_errors():
        check_outputs([gold, *run_files(annotated_dir)], [output])
        scores = score_pseudo_labels(annotated_dir, gold, threshold=threshold)
    for name, acc in scores["accuracy"].items():
        msg.info(
            f"{name}: accuracy {acc:.4f}, micro-F1 {scores['micro_f1'][name]:.4f}, "
            f"macro-F1 {scores['macro_f1'][name]:.4f}"
        )
    msg.good(
        f"Scored {scores['n_docs']} pseudo-labelled docs "
        f"({scores['n_unmatched']} unmatched, "
        f"{scores['n_augmented_skipped']} augmented copies skipped)"
    )
    write_summary(scores, output)
