"""``python -m spacy_kd evaluate``: compare pipelines side by side (thin wrapper)."""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import user_errors


def _progress(line: str) -> None:
    typer.echo(f"ℹ {line}", err=True)


@app.command("evaluate")
def evaluate_cli(
    pipelines: List[Path] = typer.Argument(..., help="Pipeline directories to compare"),
    data: Path = typer.Option(
        ..., "--data", "-d", help="Labelled test data: .spacy (DocBin), .jsonl or .csv"
    ),
    names: Optional[str] = typer.Option(
        None,
        "--names",
        help="Comma-separated names for the report (default: folder names)",
    ),
    reference: Optional[str] = typer.Option(
        None,
        "--reference",
        "-r",
        help="A pipeline (name or folder) to measure every pipeline's agreement with",
    ),
    tune_thresholds: Optional[Path] = typer.Option(
        None,
        "--tune-thresholds",
        help="Labelled dev data: tune per-label thresholds (multi-label) on it",
    ),
    threshold: float = typer.Option(
        0.5, "--threshold", help="Multi-label decision threshold (when not tuned)"
    ),
    component: Optional[str] = typer.Option(
        None,
        "--component",
        help="The text classifier's name, if a pipeline has several",
    ),
    sample: int = typer.Option(
        0,
        "--sample",
        help="Score a seeded random sample of this many test docs (0: all)",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of --sample and of the speed docs"
    ),
    batch_size: int = typer.Option(128, "--batch-size", help="Batch size of nlp.pipe"),
    no_speed: bool = typer.Option(
        False, "--no-speed", help="Skip the speed and memory measurements"
    ),
    n_speed_docs: int = typer.Option(
        500, "--n-speed-docs", help="Number of test docs for the speed runs"
    ),
    n_threads: int = typer.Option(
        1, "--n-threads", help="Threads of every speed run (OMP/MKL/torch)"
    ),
    n_warmup: int = typer.Option(16, "--n-warmup", help="Warm-up docs before timing"),
    output: Optional[Path] = typer.Option(
        None, "--output", "-o", help="Write the full report as JSON"
    ),
    markdown: Optional[Path] = typer.Option(
        None, "--markdown", help="Write a markdown report"
    ),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="Plot accuracy against seconds per doc (.png, .svg, .pdf)"
    ),
    plot_metric: str = typer.Option(
        "micro_f",
        "--plot-metric",
        help="micro_f, macro_f, micro_p, micro_r, macro_p, macro_r or exact_match",
    ),
    per_label: bool = typer.Option(
        False, "--per-label", help="Also print per-label F for every pipeline"
    ),
) -> None:
    """Compare pipelines on a test set: accuracy, agreement, speed, memory, size.

    Micro/macro P, R, F, exact match, agreement with a reference, latency,
    throughput, peak memory and size on disk.
    """
    from spacy_kd.evaluation import evaluate
    from spacy_kd.evaluation.output import check_report_outputs, write_report
    from spacy_kd.evaluation.plot import require_matplotlib
    from spacy_kd.evaluation.report import ACCURACY_METRICS

    name_list = None if names is None else [n.strip() for n in names.split(",")]
    if name_list is not None and len(name_list) != len(pipelines):
        raise typer.BadParameter(
            f"{len(name_list)} names for {len(pipelines)} pipelines",
            param_hint="--names",
        )
    if name_list is not None and (
        len(set(name_list)) != len(name_list) or "" in name_list
    ):
        raise typer.BadParameter(
            "names must be unique and non-empty", param_hint="--names"
        )
    if not 0.0 <= threshold <= 1.0:
        raise typer.BadParameter("must be in [0, 1]", param_hint="--threshold")
    for value, hint in (
        (n_speed_docs, "--n-speed-docs"),
        (n_threads, "--n-threads"),
        (batch_size, "--batch-size"),
    ):
        if value < 1:
            raise typer.BadParameter("must be at least 1", param_hint=hint)
    if plot is not None:
        if no_speed:
            raise typer.BadParameter(
                "needs the speed measurements (drop --no-speed)", param_hint="--plot"
            )
        if plot_metric not in ACCURACY_METRICS:
            raise typer.BadParameter(
                f"choose from {', '.join(ACCURACY_METRICS)}", param_hint="--plot-metric"
            )
        try:
            require_matplotlib()
        except ImportError as e:
            raise typer.BadParameter(str(e), param_hint="--plot") from None
    with user_errors():
        # every output is checked before the (long) evaluation, and nothing written
        check_report_outputs(
            json_path=output,
            markdown_path=markdown,
            plot_path=plot,
            inputs=[data, tune_thresholds],
        )
        report = evaluate(
            pipelines,
            data,
            names=name_list,
            reference=reference,
            tune_thresholds_on=tune_thresholds,
            threshold=threshold,
            component=component,
            sample=sample,
            seed=seed,
            batch_size=batch_size,
            measure_speed=not no_speed,
            n_speed_docs=n_speed_docs,
            n_threads=n_threads,
            n_warmup=n_warmup,
            progress=_progress,
            progress_bars=True,
        )
        typer.echo(report.to_text(per_label=per_label))
        write_report(
            report,
            json_path=output,
            markdown_path=markdown,
            plot_path=plot,
            plot_metric=plot_metric,
        )
    for path, what in ((output, "Report"), (markdown, "Markdown"), (plot, "Plot")):
        if path is not None:
            msg.good(f"{what} written to {path}")
