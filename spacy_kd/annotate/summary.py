"""The summary of an annotate run (or of merged runs): counts, label distribution,
confidence and teacher agreement read from the per-shard statistics, plus the run's
speed and its calibration on dev."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.weights import DevFit


@dataclass
class AnnotateSummary:
    output_dir: str
    teachers: List[str]
    weights: List[float]
    n_input: int = 0
    n_written: int = 0
    n_dropped_low_confidence: int = 0
    n_empty_skipped: int = 0
    n_shards: int = 0
    n_shards_resumed: int = 0
    label_counts: Dict[str, float] = field(default_factory=dict)
    mean_confidence: float = 0.0
    teacher_agreement: Dict[str, float] = field(default_factory=dict)
    # fitted on dev (--weights-from-dev): temperatures, ECE before and after
    calibration: Dict[str, Any] = field(default_factory=dict)
    # the dev fit was read from the run's dev_fit.json (teachers not run on dev)
    dev_fit_reused: bool = False
    seconds: float = 0.0
    docs_per_second: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


def run_summary(
    output_dir: Path,
    names: List[str],
    labels: List[str],
    weights: List[float],
    *,
    n_new: int,
    n_resumed: int,
    seconds: float,
    dev_fit: Optional[DevFit],
    dev_fit_reused: bool,
) -> AnnotateSummary:
    """A finished run's summary: ``summarize``'s counts over every shard, plus
    this call's resumed shards, speed (``n_new`` docs annotated in ``seconds``)
    and the calibration fitted on dev."""
    summary = summarize(output_dir, names, labels, weights)
    summary.n_shards_resumed = n_resumed
    summary.dev_fit_reused = dev_fit_reused
    if dev_fit is not None and dev_fit.temperatures:
        summary.calibration = {
            "temperatures": dev_fit.temperatures,
            "ece_dev_before": dev_fit.ece_before,
            "ece_dev_after": dev_fit.ece_after,
        }
    summary.seconds = seconds
    summary.docs_per_second = n_new / seconds if seconds > 0 else 0.0
    return summary


def summarize(
    output_dir: Path, names: List[str], labels: List[str], weights: List[float]
) -> AnnotateSummary:
    """Counts, label distribution, confidence and teacher agreement over every shard
    (``names``: the teachers'; ``labels`` in the run's order).

    Read from the per-shard statistics files, so resumed shards are counted too.
    """
    summary = AnnotateSummary(
        output_dir=str(output_dir), teachers=list(names), weights=weights
    )
    label_totals = numpy.zeros(len(labels))
    conf_total = 0.0
    agree: Dict[str, int] = {}
    for shard_path in iter_shards(output_dir):
        stats = json.loads(shard_path.with_suffix(".json").read_text(encoding="utf-8"))
        summary.n_shards += 1
        for key in (
            "n_input",
            "n_empty_skipped",
            "n_dropped_low_confidence",
            "n_written",
        ):
            setattr(summary, key, getattr(summary, key) + stats[key])
        label_totals += numpy.asarray(stats["label_totals"])
        conf_total += stats["confidence_sum"]
        for pair, count in stats["agreement_counts"].items():
            agree[pair] = agree.get(pair, 0) + count
    n = summary.n_written
    summary.label_counts = {label: int(c) for label, c in zip(labels, label_totals)}
    summary.mean_confidence = conf_total / n if n else 0.0
    summary.teacher_agreement = {k: v / n for k, v in agree.items()} if n else {}
    return summary
