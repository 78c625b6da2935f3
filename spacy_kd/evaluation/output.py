"""Write an evaluation report to disk: JSON, markdown and the accuracy/speed plot."""

import json
from pathlib import Path
from typing import Iterable, Optional, Union

from spacy_kd.errors import DataError
from spacy_kd.evaluation.plot import plot_report, require_matplotlib
from spacy_kd.evaluation.report import ACCURACY_METRICS, EvaluationReport
from spacy_kd.util import atomic_open, check_outputs

PathLike = Union[str, Path]
# the image formats of the plot, chosen by the file's suffix
PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def check_report_outputs(
    *,
    json_path: Optional[PathLike] = None,
    markdown_path: Optional[PathLike] = None,
    plot_path: Optional[PathLike] = None,
    inputs: Iterable[Optional[PathLike]] = (),
) -> None:
    """Raise a DataError, before anything is written, if a report file cannot be
    written: a plot whose suffix is not an image format, a path that is a folder or
    under a file, one that is an input or names the same file as another output."""
    if plot_path is not None and Path(plot_path).suffix.lower() not in PLOT_SUFFIXES:
        raise DataError(
            plot_path,
            f"a plot is written as {', '.join(PLOT_SUFFIXES)} (from the file's "
            f"suffix), not {Path(plot_path).suffix or 'a file without a suffix'!r}; "
            "nothing was written",
        )
    check_outputs(inputs, [json_path, markdown_path, plot_path])


def write_report(
    report: EvaluationReport,
    *,
    json_path: Optional[PathLike] = None,
    markdown_path: Optional[PathLike] = None,
    plot_path: Optional[PathLike] = None,
    plot_metric: str = "micro_f",
) -> None:
    """Write each of the report's files whose path is given, atomically; every path
    is checked first (:func:`check_report_outputs`), so a bad one writes nothing.

    plot_path: accuracy (``plot_metric``) against seconds per doc; needs the speed
    measurements and matplotlib.
    """
    check_report_outputs(
        json_path=json_path,
        markdown_path=markdown_path,
        plot_path=plot_path,
        inputs=[report.data.get("path")],
    )
    if plot_path is not None:  # what plot_report would refuse, before any writing
        if plot_metric not in ACCURACY_METRICS:
            raise ValueError(
                f"unknown plot metric {plot_metric!r}; choose from "
                f"{', '.join(ACCURACY_METRICS)}"
            )
        if all(p.speed is None for p in report.pipelines):
            raise ValueError("the plot needs speed measurements (measure_speed=True)")
        require_matplotlib()
    if json_path is not None:
        # stdlib json: srsly's ujson rounds floats to 10 digits
        with atomic_open(json_path) as f:
            f.write(json.dumps(report.to_dict(), indent=2) + "\n")
    if markdown_path is not None:
        with atomic_open(markdown_path) as f:
            f.write(report.to_markdown())
    if plot_path is not None:
        plot_report(report, plot_path, metric=plot_metric)
