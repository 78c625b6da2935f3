"""The teachers with the label-prior correction the students get, as report rows.

The workflow fits a ``kd_label_prior`` (``spacy_kd.distillation.prior``) on the pool
for every exclusive student and baseline. A teacher carries the same bias in how
often it gives each label, so a report that compared corrected students with
uncorrected teachers would flatter the students. This module fits the same
correction for each teacher of the annotate run, from what the run recorded (the
teacher's probabilities on the pool's docs, augmented copies left out, their
temperature undone), to the label shares of the gold training docs, and scores
the corrected teacher on the test set, each extra set and dev, from the scores the
report already kept: no teacher runs again.
"""

from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.pseudo import pseudo_record
from spacy_kd.annotate.weights import calibrated
from spacy_kd.data.augment import is_augmented
from spacy_kd.data.docbin import read_docbin
from spacy_kd.distillation.prior import apply_prior_weights, fit_prior_weights
from spacy_kd.errors import DataError
from spacy_kd.evaluation.ensemble import (
    AnnotateRun,
    kept_scores,
    num_cell,
    run_labels,
    run_multi_label,
    scores_row,
)
from spacy_kd.evaluation.gold import GoldSet
from spacy_kd.evaluation.metrics import score_cats
from spacy_kd.evaluation.prior import gold_prior
from spacy_kd.evaluation.report import PipelineResult, md_table

SUFFIX = " + label prior"


def pool_probs(run: AnnotateRun, labels: List[str]) -> Dict[str, numpy.ndarray]:
    """Each teacher's own probabilities on the run's original docs (augmented
    copies left out), in ``labels`` order: the recorded calibrated probabilities
    with the teacher's temperature undone."""
    rows: Dict[str, List[List[float]]] = {name: [] for name in run.teachers}
    for shard in iter_shards(run.folder):
        for i, doc in enumerate(read_docbin(shard)):
            if is_augmented(doc):
                continue
            record = pseudo_record(doc)
            probs = (record or {}).get("probs") or {}
            if any(name not in probs for name in run.teachers):
                raise DataError(
                    shard, f"doc {i} has no recorded probabilities of every teacher"
                )
            order = [list(record["labels"]).index(label) for label in labels]
            for name in run.teachers:
                rows[name].append([float(probs[name][j]) for j in order])
    out = {}
    for name, values in rows.items():
        p = numpy.asarray(values, dtype="float64").reshape(-1, len(labels))
        temperature = run.temperatures.get(name)
        undo = None if temperature is None else 1.0 / float(temperature)
        out[name] = calibrated(p, undo, False)
    return out


def teacher_prior_rows(
    run: AnnotateRun,
    results: Mapping[str, PipelineResult],
    gold: GoldSet,
    extra: Mapping[str, GoldSet],
    labelled: GoldSet,
    reference: Optional[PipelineResult] = None,
    dev: Optional[Tuple[GoldSet, Mapping[str, PipelineResult]]] = None,
) -> Tuple[List[PipelineResult], Dict[str, Any]]:
    """For each exclusive teacher of the run evaluated here (scores kept): its row
    with the label-prior correction, and the numbers for report.json (the weights,
    macro-F1 before and after on test, each extra set and, with ``dev`` (the dev
    set and the teachers' results on it), dev). Multi-label runs: nothing (their
    models ship per-label thresholds instead)."""
    present = [n for n in run.teachers if n in results]
    if not present or run_multi_label(run, results):
        return [], {}
    labels = run_labels(run, results)
    target = gold_prior(labelled, labels)
    pool = pool_probs(run, labels)
    rows: List[PipelineResult] = []
    info: Dict[str, Any] = {}
    for name in present:
        test = kept_scores(results[name], labels, None)
        if test is None or len(pool[name]) == 0:
            continue
        weights = fit_prior_weights(pool[name], target)
        before: Dict[str, Optional[float]] = {"test": _macro(gold, test, labels)}
        after: Dict[str, Optional[float]] = {}
        extra_scores = {}
        for key, other in extra.items():
            raw = kept_scores(results[name], labels, key)
            if raw is not None:
                extra_scores[key] = apply_prior_weights(raw, weights)
                before[key] = _macro(other, raw, labels)
                after[key] = _macro(other, extra_scores[key], labels)
        if dev is not None and name in dev[1]:
            raw = kept_scores(dev[1][name], labels, None)
            if raw is not None:
                before["dev"] = _macro(dev[0], raw, labels)
                after["dev"] = _macro(dev[0], apply_prior_weights(raw, weights), labels)
        row = scores_row(
            name + SUFFIX,
            results[name].path,
            labels,
            False,
            apply_prior_weights(test, weights),
            extra_scores,
            gold,
            extra,
            reference,
            role="teacher_prior",
            note=(
                f"{name}'s probabilities with the label-prior correction the "
                f"students get, fitted on the {len(pool[name]):,} pool docs of the "
                f"annotate run in `{run.folder}` to the label shares of "
                f"`{labelled.path}` (weights {weights.min():.3g} to "
                f"{weights.max():.3g}); no speed row: it costs its teacher's"
            ),
        )
        after["test"] = row.accuracy.macro_f
        rows.append(row)
        info[name] = {
            "row": row.name,
            "n_pool": len(pool[name]),
            "weights": {label: float(w) for label, w in zip(labels, weights)},
            "macro_f_before": before,
            "macro_f_after": after,
        }
    return rows, info


def _macro(gold: GoldSet, scores: numpy.ndarray, labels: List[str]) -> float:
    return score_cats(gold.cats, scores, labels, multi_label=False).macro_f


def teacher_prior_markdown(info: Mapping[str, Any]) -> List[str]:
    """The report's section on the teachers with the label-prior correction."""
    if not info:
        return []
    sets = ["dev", "test"]
    for entry in info.values():
        sets += [k for k in entry["macro_f_before"] if k not in sets]
    rows = []
    for name, entry in info.items():
        w = entry["weights"]
        low, high = min(w, key=w.__getitem__), max(w, key=w.__getitem__)
        cells = [name, f"{w[low]:.3g} ({low}) to {w[high]:.3g} ({high})"]
        for key in sets:
            b, a = entry["macro_f_before"].get(key), entry["macro_f_after"].get(key)
            cells.append(f"{num_cell(b)} -> {num_cell(a)}" if a is not None else "-")
        rows.append(cells)
    return [
        "",
        "## Teachers with the label-prior correction",
        "",
        "Each exclusive teacher with the correction every exclusive student and "
        "baseline of the workflow ships (`kd_label_prior`), fitted on the pool from "
        "the annotate run's records: macro-F1 before -> after.",
        "",
        *md_table(["teacher", "weights", *sets], rows),
        "",
    ]
