"""Write an evaluation report to disk: JSON, markdown and the accuracy/speed plot."""

import json
from pathlib import Path
from typing import Optional, Union

from spacy_kd.evaluation.plot import plot_report
from spacy_kd.evaluation.report import EvaluationReport
from spacy_kd.util import atomic_open

PathLike = Union[str, Path]


def write_report(
    report: EvaluationReport,
    *,
    json_path: Optional[PathLike] = None,
    markdown_path: Optional[PathLike] = None,
    plot_path: Optional[PathLike] = None,
    plot_metric: str = "micro_f",
) -> None:
    """Write each of the report's files whose path is given, atomically.

    plot_path: accuracy (``plot_metric``) against seconds per doc; needs the speed
    measurements and matplotlib.
    """
    if json_path is not None:
        # stdlib json: srsly's ujson rounds floats to 10 digits
        with atomic_open(json_path) as f:
            f.write(json.dumps(report.to_dict(), indent=2) + "\n")
    if markdown_path is not None:
        with atomic_open(markdown_path) as f:
            f.write(report.to_markdown())
    if plot_path is not None:
        plot_report(report, plot_path, metric=plot_metric)
