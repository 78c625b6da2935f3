"""``annotate-merge``: runs of different teachers over one input become one run.

Runs of ``annotate`` with different teachers over the same input (same content,
shard size, limit, labels and settings; docs tokenized the same) are merged shard by
shard: every teacher's probabilities are copied from its run's records, as they are
(so they equal those of a joint run of all the teachers, which runs each teacher on
its own), and the combined labels are recomputed by ``build_shard`` with weights
given or fitted on dev data (``fit_on_dev``, with the runs' temperatures). The output
is an annotate run like any other: the manifest a joint run would write, shards and
their statistics written atomically (so a merge resumes), ``summary.json`` (which
names the merged runs).
"""

import json
import math
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
from spacy.tokens import Doc
from spacy.vocab import Vocab

from spacy_kd.annotate.manifest import (
    MANIFEST,
    SHARD_PATTERN,
    SUMMARY,
    check_manifest,
    is_run_file,
)
from spacy_kd.annotate.pseudo import RECORD_KEY
from spacy_kd.annotate.run import (
    ShardSettings,
    build_shard,
    shard_done,
    write_shard,
)
from spacy_kd.annotate.summary import AnnotateSummary, run_summary
from spacy_kd.annotate.teachers import load_teachers
from spacy_kd.annotate.weights import (
    DevFit,
    dev_fit_key,
    fit_on_dev,
    store_dev_fit,
    stored_dev_fit,
)
from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.errors import DataError
from spacy_kd.util import check_outputs, content_sha256, write_json_atomic

# what runs must share to be merged: manifest key -> what it is, in words
SHARED = {
    "shard_size": "the shard size",
    "limit": "the limit",
    "multi_label": "multi-label or exclusive",
    "hard": "--hard",
    "threshold": "the threshold",
}


def merge_runs(
    run_dirs: Sequence[Union[str, Path]],
    output_dir: Union[str, Path],
    *,
    weights: Optional[Sequence[float]] = None,
    weights_from_dev: Union[str, Path, None] = None,
    batch_size: int = 64,
    progress: bool = True,
    overwrite: bool = False,
) -> AnnotateSummary:
    """Merge annotate runs of different teachers over one input into ``output_dir``.

    weights: one per teacher of all the runs, in order (normalised; default equal);
    or weights_from_dev: labelled dev data to fit them on, the teachers' probabilities
    at the temperatures of their runs (the runs must have been calibrated on the
    same dev data, or all not calibrated: as a joint run would be).
    """
    runs = [Path(p) for p in run_dirs]
    output_dir = Path(output_dir)
    if len(runs) < 2:
        raise DataError(None, "annotate-merge needs at least two runs and an output")
    if weights is not None and weights_from_dev is not None:
        raise DataError(None, "give --weights or --weights-from-dev, not both")
    manifests = [_read_run(run) for run in runs]
    for run in runs:
        if run.resolve() == output_dir.resolve():
            raise DataError(output_dir, "is one of the runs to merge; write elsewhere")
    check_outputs(
        [weights_from_dev], [output_dir / MANIFEST, output_dir / SUMMARY],
        folders=[output_dir],
    )  # fmt: skip
    if weights_from_dev is not None and is_run_file(weights_from_dev, output_dir):
        raise DataError(weights_from_dev, "is an input but lies in the output folder")
    _check_mergeable(runs, manifests)
    first = manifests[0]
    labels = list(first["labels"])
    entries = [t for m in manifests for t in m["teachers"]]
    names = [t["name"] for t in entries]
    temperatures = _temperatures(manifests, labels)
    dev_fit: Optional[DevFit] = None
    reused = False
    if weights_from_dev is not None:
        dev_fit, reused = _fit_weights(
            entries, weights_from_dev, labels, temperatures, output_dir, batch_size
        )
        weights = dev_fit.weights
    weights = _normalised(weights, len(entries))
    settings = {key: first[key] for key in ("hard", "threshold", "min_confidence")}
    settings.update(
        limit=first["limit"], shard_size=first["shard_size"], labels=labels,
        multi_label=first["multi_label"], temperatures=temperatures,
    )  # fmt: skip
    manifest = {
        "teachers": entries,
        "weights": [round(w, 10) for w in weights],
        "input": first["input"],
        **settings,
    }
    resuming = check_manifest(output_dir, manifest, overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not resuming:
        write_json_atomic(output_dir / MANIFEST, manifest)
    if dev_fit is not None and weights_from_dev is not None:
        key = dev_fit_key(_key_teachers(entries), weights_from_dev, bool(temperatures))
        store_dev_fit(output_dir, key, dev_fit)

    shard_settings = ShardSettings(
        weights=weights, hard=first["hard"], threshold=first["threshold"],
        min_confidence=first["min_confidence"], temperatures=temperatures,
    )  # fmt: skip
    vocab = _vocab(entries[0])
    n_shards = _n_shards(runs[0])
    start = time.perf_counter()
    n_new = n_resumed = 0
    bar = _progress(progress, n_shards)
    for index in range(n_shards):
        if shard_done(output_dir, index):
            n_resumed += 1
        else:
            result, n_docs = _merge_shard(
                runs, manifests, index, vocab, labels, shard_settings
            )
            write_shard(output_dir, result)
            n_new += n_docs
        bar.update(1)
    bar.close()
    summary = run_summary(
        output_dir, names, labels, weights,
        n_new=n_new, n_resumed=n_resumed, seconds=time.perf_counter() - start,
        dev_fit=dev_fit, dev_fit_reused=reused,
    )  # fmt: skip
    data = summary.to_dict()
    data["merged_from"] = [str(run.resolve()) for run in runs]
    write_json_atomic(output_dir / SUMMARY, data)
    return summary


def _read_run(run: Path) -> Dict[str, Any]:
    """A finished annotate run's manifest; a DataError for anything else."""
    if not (run / MANIFEST).exists():
        raise DataError(run, f"no {MANIFEST}: not an annotate output folder")
    if not (run / SUMMARY).exists():
        raise DataError(
            run, "the run is not finished (no summary.json): rerun its annotate command"
        )
    try:
        manifest = json.loads((run / MANIFEST).read_text(encoding="utf-8"))
        summary = json.loads((run / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(run, f"unreadable manifest or summary: {e}") from None
    for index in range(summary.get("n_shards", 0)):
        if not shard_done(run, index):
            raise DataError(run, f"{SHARD_PATTERN.format(index)} or its .json missing")
    return manifest


def _n_shards(run: Path) -> int:
    return json.loads((run / SUMMARY).read_text(encoding="utf-8"))["n_shards"]


def _check_mergeable(runs: List[Path], manifests: List[Dict[str, Any]]) -> None:
    """Raise a DataError naming what differs between a run and the first one."""
    first = manifests[0]
    seen: Dict[str, Path] = {}
    for run, manifest in zip(runs, manifests):
        if manifest.get("min_confidence", 0) > 0:
            raise DataError(
                run,
                f"annotated with --min-confidence {manifest['min_confidence']}: its "
                "dropped docs cannot be merged; annotate again without it",
            )
        for teacher in manifest["teachers"]:
            name = teacher["name"]
            if name in seen:
                raise DataError(
                    run, f"teacher {name!r} is in {seen[name]} too; merge each once"
                )
            seen[name] = run
        if manifest is first:
            continue
        differs = [
            words for key, words in SHARED.items() if manifest[key] != first[key]
        ]
        if manifest["input"]["sha256"] != first["input"]["sha256"]:
            differs.insert(0, "the input's content")
        if set(manifest["labels"]) != set(first["labels"]):
            differs.append("the labels")
        if differs:
            raise DataError(
                run, f"cannot be merged with {runs[0]}: {', '.join(differs)} differ"
            )
        if _n_shards(run) != _n_shards(runs[0]):
            raise DataError(run, f"has another number of shards than {runs[0]}")


def _temperatures(manifests: List[Dict[str, Any]], labels: List[str]) -> Dict:
    """Every run's teacher temperatures (per-label ones in ``labels`` order)."""
    merged: Dict[str, Any] = {}
    for manifest in manifests:
        order = [manifest["labels"].index(label) for label in labels]
        for name, t in (manifest.get("temperatures") or {}).items():
            merged[name] = [t[i] for i in order] if isinstance(t, list) else t
    return merged


def _key_teachers(entries: List[Dict[str, Any]]) -> List[Any]:
    """Stand-ins with what ``dev_fit_key`` reads of a teacher: name and path (so the
    key is a joint run's)."""
    return [SimpleNamespace(name=t["name"], path=t["path"]) for t in entries]


def _fit_weights(
    entries: List[Dict[str, Any]],
    dev: Union[str, Path],
    labels: List[str],
    temperatures: Dict[str, Any],
    output_dir: Path,
    batch_size: int,
) -> Tuple[DevFit, bool]:
    """The weights fitted on dev as a joint run would fit them (read back from the
    output folder when this merge fitted them before), and whether they were."""
    calibrate = bool(temperatures)
    if calibrate and set(temperatures) != {t["name"] for t in entries}:
        raise DataError(
            None,
            "some runs were calibrated on dev data and others not "
            f"(calibrated: {sorted(temperatures)}); annotate them alike, or merge "
            "with --weights",
        )
    key = dev_fit_key(_key_teachers(entries), dev, calibrate)
    fit = stored_dev_fit(output_dir, key)
    if fit is not None:
        return fit, True
    for entry in entries:
        if content_sha256(entry["path"]) != entry["sha256"]:
            raise DataError(
                entry["path"],
                f"teacher {entry['name']} changed since its run: the weights would "
                "be fitted for another teacher; merge with --weights",
            )
    teachers = load_teachers([t["path"] for t in entries])
    for teacher, entry in zip(teachers, entries):
        teacher.name = entry["name"]
    fit = fit_on_dev(teachers, dev, labels, calibrate=calibrate, batch_size=batch_size)
    for name, t in fit.temperatures.items():
        if t != temperatures[name]:
            raise DataError(
                dev,
                f"teacher {name} was calibrated on other dev data (temperature "
                f"{temperatures[name]} in its run, {t} here); pass the dev data the "
                "runs were annotated with, or merge with --weights",
            )
    return fit, False


def _normalised(weights: Optional[Sequence[float]], n: int) -> List[float]:
    values = [1.0] * n if weights is None else [float(w) for w in weights]
    if len(values) != n:
        raise DataError(None, f"{len(values)} weights for {n} teachers")
    if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise DataError(None, f"weights must be >= 0 and not all 0, got {values}")
    return [w / sum(values) for w in values]


def _vocab(entry: Dict[str, Any]) -> Vocab:
    """A vocab of the first teacher's language (``pipeline``: ``{lang}_{name}-...``)."""
    try:
        return spacy.blank(entry["pipeline"].split("_")[0]).vocab
    except Exception:  # an unknown language code: the docs read as well without it
        return Vocab()


def _merge_shard(
    runs: List[Path],
    manifests: List[Dict[str, Any]],
    index: int,
    vocab: Vocab,
    labels: List[str],
    settings: ShardSettings,
) -> Tuple[Dict[str, Any], int]:
    """Shard ``index`` of the merged run (``build_shard``'s result), and its number
    of input docs. The first run's docs are kept; every doc must match."""
    name = SHARD_PATTERN.format(index)
    docs_per_run = [read_docbin(run / name, vocab=vocab) for run in runs]
    first_stats = json.loads((runs[0] / name).with_suffix(".json").read_text("utf-8"))
    docs = docs_per_run[0]
    per_teacher: Dict[str, numpy.ndarray] = {}
    for run, manifest, run_docs in zip(runs, manifests, docs_per_run):
        if len(run_docs) != len(docs):
            raise DataError(
                run / name, f"holds {len(run_docs)} docs, {runs[0] / name} {len(docs)}"
            )
        for doc, other in zip(docs, run_docs):
            _check_same_doc(doc, other, run / name)
        for teacher in manifest["teachers"]:
            per_teacher[teacher["name"]] = numpy.asarray(
                [_probs(doc, teacher["name"], labels) for doc in run_docs],
                dtype="float64",
            ).reshape(len(run_docs), len(labels))
    ids = [doc.user_data.get(ID_KEY) for doc in docs]
    result = build_shard(
        name, first_stats["n_input"], ids, docs, per_teacher, labels=labels,
        multi_label=bool(manifests[0]["multi_label"]), settings=settings,
    )  # fmt: skip
    return result, first_stats["n_input"]


def _check_same_doc(doc: Doc, other: Doc, where: Path) -> None:
    """The same input doc, tokenized the same, in two runs; else a DataError."""
    doc_id = doc.user_data.get(ID_KEY)
    if other.user_data.get(ID_KEY) != doc_id or other.text != doc.text:
        raise DataError(
            where, f"doc {other.user_data.get(ID_KEY)!r} is not doc {doc_id!r} there"
        )
    words = [(t.text, t.whitespace_) for t in doc]
    if [(t.text, t.whitespace_) for t in other] != words:
        raise DataError(
            where,
            f"doc {doc_id!r} is tokenized differently: the runs' first teachers "
            "have other tokenizers; merge runs whose docs have the same tokens",
        )


def _probs(doc: Doc, teacher: str, labels: List[str]) -> List[float]:
    """A teacher's probabilities from a doc's record, in ``labels`` order."""
    record = doc.user_data[RECORD_KEY]
    order = list(record["labels"])
    probs = record["probs"][teacher]
    return [probs[order.index(label)] for label in labels]


def _progress(enabled: bool, total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="shard", disable=not enabled, desc="merge")
