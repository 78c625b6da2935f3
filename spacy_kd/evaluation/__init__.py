"""Compare text-classification pipelines: accuracy, agreement, speed, memory, reports.

metrics.py         P/R/F, exact match, agreement, threshold tuning (numpy only)
gold.py            labelled test data (DocBin, JSONL, CSV) and its checks
extra_sets.py      extra (e.g. cross-domain) test sets and their label maps
measure.py         speed and memory in a fresh subprocess (worker.py runs there)
isolation.py       a Python path without torch and its kin, for that subprocess
report.py          the report: JSON, terminal tables, markdown; plot.py: the PNG
output.py          ``write_report``: the report's JSON, markdown and PNG files
arguments.py       the arguments of ``evaluate``, checked before anything is loaded
runner.py          ``evaluate(pipelines, data, ...)``, which ties them together
targets.py         the models of a training folder and the talk's targets
ensemble.py        the annotate run: teachers' calibration on test, their ensemble
training_report.py ``report_training``: every model of a training folder, reported
(classifier.py, shared by all stages: load a pipeline, find its text classifier)

Attributes are imported lazily, so that ``python -m spacy_kd.evaluation.worker``
starts with nothing loaded but the worker itself.
"""

from typing import Any

__all__ = ["EvaluationReport", "PipelineResult", "evaluate", "plot_report"]

_WHERE = {
    "evaluate": ".runner",
    "EvaluationReport": ".report",
    "PipelineResult": ".report",
    "plot_report": ".plot",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
