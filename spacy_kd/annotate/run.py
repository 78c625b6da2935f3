"""Pseudo-annotation: teachers label unlabelled text into resumable DocBin shards.

``annotate`` runs every teacher pipeline over the input, combines their
probabilities by weight, records each teacher's own output on the doc (see
``spacy_kd.annotate.pseudo``) and writes shards of ``shard_size`` input docs.
Shard ``i`` always holds what became of input docs ``[i * shard_size, (i + 1) *
shard_size)``, so a rerun after a crash skips the shards already written (each is
written to a temporary file and renamed) and produces the same files as an
uninterrupted run. ``manifest.json`` records the settings; an output folder whose
manifest differs is refused unless ``overwrite``, so shards of different runs never
mix (see ``spacy_kd.annotate.manifest``).

Two engines annotate the shards: ``local`` (this process) and ``ray`` (actors on one
machine or a cluster, ``spacy_kd.annotate.ray_engine``). Both run ``annotate_shard``
on the same shards and the driver writes each one with ``write_shard``, so their
files are the same and either resumes the other's run.
"""

import contextlib
import itertools
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy
from spacy.tokens import Doc
from spacy.util import minibatch

from spacy_kd.annotate.manifest import (
    MANIFEST,
    SHARD_PATTERN,
    SUMMARY,
    check_manifest,
    is_run_file,
    make_manifest,
)
from spacy_kd.annotate.pseudo import hard_labels, mark_pseudo
from spacy_kd.annotate.summary import AnnotateSummary, run_summary
from spacy_kd.annotate.teachers import (
    Teacher,
    length_order,
    load_teachers,
    run_teacher,
)
from spacy_kd.annotate.weights import (
    DevFit,
    calibrated,
    dev_fit_key,
    fit_on_dev,
    store_dev_fit,
    stored_dev_fit,
)
from spacy_kd.data.docbin import ID_KEY, docbin_bytes
from spacy_kd.data.texts import read_texts
from spacy_kd.errors import DataError
from spacy_kd.util import check_outputs, write_bytes_atomic, write_json_atomic

ENGINES = ("local", "ray")
Chunk = List[Tuple[Any, Union[str, Doc]]]  # one shard's (id, text or Doc) input items


@dataclass
class ShardSettings:
    """How each shard of a run is annotated: the same in every engine and worker.

    weights: one per teacher, in the teachers' order, normalised.
    temperatures: a teacher's name -> its temperature fitted on dev (absent: none).
    n_process: ``nlp.pipe``'s processes (the local engine; 1 in a Ray actor).
    sort_by_length: run each shard's docs through the teachers shortest first, so
        a batch pads little (the records keep the input order).
    """

    weights: List[float]
    hard: bool = False
    threshold: float = 0.5
    min_confidence: float = 0.0
    batch_size: int = 64
    n_process: int = 1
    sort_by_length: bool = True
    temperatures: Dict[str, Any] = field(default_factory=dict)


def confidence(p: numpy.ndarray, multi_label: bool) -> float:
    """Max probability (exclusive); the least certain label decision (multi-label)."""
    if multi_label:
        return float(numpy.min(numpy.maximum(p, 1.0 - p))) if p.size else 1.0
    return float(p.max()) if p.size else 0.0


def is_blank(item: Union[str, Doc]) -> bool:
    """Whether a text or Doc holds nothing but whitespace."""
    if isinstance(item, Doc):
        return all(token.is_space for token in item)
    return not item.strip()


def annotate(
    teacher_paths: Sequence[Union[str, Path]],
    input_path: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    weights: Optional[Sequence[float]] = None,
    weights_from_dev: Union[str, Path, None] = None,
    hard: bool = False,
    threshold: float = 0.5,
    min_confidence: float = 0.0,
    limit: int = 0,
    batch_size: int = 64,
    n_process: int = 1,
    shard_size: int = 1000,
    calibrate: bool = True,
    progress: bool = True,
    overwrite: bool = False,
    engine: str = "local",
    address: Optional[str] = None,
    threads: int = 0,
    sort_by_length: bool = True,
) -> AnnotateSummary:
    """Pseudo-annotate ``input_path`` with the teachers into shards in ``output_dir``.

    weights: one per teacher (normalised); or weights_from_dev: labelled dev data
    to fit them on. hard: 0/1 labels (argmax, or >= threshold for multi-label).
    min_confidence: drop docs whose confidence is below it (see ``confidence``).
    calibrate: with weights_from_dev, fit each teacher's temperature there too
        (least NLL) and annotate with calibrated probabilities (the records, the
        combination and the weights all use them).
    overwrite: replace the files of another run in ``output_dir`` (without it they
    are an error); the files of this very run are resumed either way.
    engine: ``local``, or ``ray``: ``n_process`` actors (-1: as many as the CPUs
        allow) with ``threads`` CPUs each, on an embedded Ray or, with ``address``
        (``auto``, ``host:port``), on an existing cluster.
    threads: torch threads per worker (0: torch's default; 1 in a Ray actor).
    sort_by_length: the teachers read each shard's docs shortest first (fewer
        padded positions in a batch); the output keeps the input's order.
    """
    input_path, output_dir = Path(input_path), Path(output_dir)
    if shard_size < 1 or batch_size < 1:
        raise DataError(None, "--shard-size and --batch-size must be >= 1")
    if not 0.0 <= min_confidence <= 1.0:
        raise DataError(
            None, f"--min-confidence must be in [0, 1], got {min_confidence}"
        )
    if not 0.0 <= threshold <= 1.0:
        raise DataError(None, f"--threshold must be in [0, 1], got {threshold}")
    if limit < 0:
        raise DataError(None, f"--limit must be >= 0 (0: every doc), got {limit}")
    if n_process < 1 and n_process != -1:
        raise DataError(
            None, f"--n-process must be >= 1 (or -1: one per CPU), got {n_process}"
        )
    if engine not in ENGINES:
        raise DataError(
            None, f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}"
        )
    if address is not None and engine != "ray":
        raise DataError(None, "--address needs --engine ray")
    if threads < 0:
        raise DataError(None, f"--threads must be >= 0 (0: default), got {threads}")
    if engine == "ray":  # before any work: a clear error without the extra
        from spacy_kd.annotate.ray_engine import require_ray

        require_ray()
    if not input_path.exists():
        raise DataError(input_path, "file not found")
    check_outputs(
        [input_path, weights_from_dev],
        [output_dir / MANIFEST, output_dir / SUMMARY],
        folders=[output_dir],
    )
    for source in (input_path, weights_from_dev):
        if source is not None and is_run_file(source, output_dir):
            raise DataError(
                source,
                f"is an input but lies in the output folder {output_dir} under a name "
                "the run writes (or removes); move it or write elsewhere (nothing was "
                "written)",
            )
    teachers = load_teachers(teacher_paths)
    labels = teachers[0].labels
    multi_label = teachers[0].multi_label
    if weights is not None and weights_from_dev is not None:
        raise DataError(None, "give --weights or --weights-from-dev, not both")
    dev_fit: Optional[DevFit] = None
    reused = False
    if weights_from_dev is not None:
        # fitted once per run: a rerun (a resume) with the same teachers, dev data
        # and settings reads the stored fit instead of running the teachers on dev
        key = dev_fit_key(teachers, weights_from_dev, calibrate)
        dev_fit = stored_dev_fit(output_dir, key)
        reused = dev_fit is not None
        if dev_fit is None:
            dev_fit = fit_on_dev(
                teachers, weights_from_dev, labels, calibrate=calibrate,
                batch_size=batch_size,
            )  # fmt: skip
        weights = dev_fit.weights
    temperatures = dev_fit.temperatures if dev_fit else {}
    if weights is None:
        weights = [1.0] * len(teachers)
    weights = [float(w) for w in weights]
    if len(weights) != len(teachers):
        raise DataError(None, f"{len(weights)} weights for {len(teachers)} teachers")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise DataError(None, f"weights must be >= 0 and not all 0, got {weights}")
    weights = [w / sum(weights) for w in weights]
    settings = {
        "hard": hard, "threshold": threshold, "min_confidence": min_confidence,
        "limit": limit, "shard_size": shard_size, "labels": labels,
        "multi_label": multi_label, "temperatures": temperatures,
    }  # fmt: skip
    # read first (an empty or unreadable input is an error before anything is
    # written); a DocBin's docs go to the teachers as they are: no second tokenization
    items: Iterable[Tuple[Any, Union[str, Doc]]] = read_texts(
        input_path, vocab=teachers[0].nlp.vocab
    )
    manifest = make_manifest(teachers, weights, input_path, settings)
    resuming = check_manifest(output_dir, manifest, overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not resuming:
        write_json_atomic(output_dir / MANIFEST, manifest)
    if dev_fit is not None and weights_from_dev is not None:
        store_dev_fit(output_dir, key, dev_fit)

    if limit > 0:
        items = itertools.islice(items, limit)
    shard_settings = ShardSettings(
        weights=weights, hard=hard, threshold=threshold,
        min_confidence=min_confidence, batch_size=batch_size, n_process=n_process,
        sort_by_length=sort_by_length, temperatures=temperatures,
    )  # fmt: skip
    start = time.perf_counter()
    shards = input_shards(items, shard_size)
    if engine == "ray":
        from spacy_kd.annotate.ray_engine import annotate_with_ray

        n_new, n_resumed = annotate_with_ray(
            manifest, shards, output_dir, shard_settings,
            n_actors=n_process, threads=threads, address=address, progress=progress,
        )  # fmt: skip
    else:
        n_new, n_resumed = _annotate_locally(
            teachers, shards, output_dir, shard_settings, threads, progress
        )
    summary = run_summary(
        output_dir, [t.name for t in teachers], labels, weights,
        n_new=n_new, n_resumed=n_resumed, seconds=time.perf_counter() - start,
        dev_fit=dev_fit, dev_fit_reused=reused,
    )  # fmt: skip
    write_json_atomic(output_dir / SUMMARY, summary.to_dict())
    return summary


def input_shards(
    items: Iterable[Tuple[Any, Union[str, Doc]]], shard_size: int
) -> Iterator[Tuple[int, Chunk]]:
    """``(shard index, its input items)``: shard ``i`` holds input docs ``[i *
    shard_size, (i + 1) * shard_size)``, whatever the engine."""
    return enumerate(minibatch(items, shard_size))


def shard_done(output_dir: Path, index: int) -> bool:
    """Whether shard ``index`` and its statistics are on disk (a resume skips it)."""
    shard_path = output_dir / SHARD_PATTERN.format(index)
    return shard_path.exists() and shard_path.with_suffix(".json").exists()


def write_shard(output_dir: Path, result: Dict[str, Any]) -> None:
    """Write what ``annotate_shard`` returned, each file atomically: the statistics
    first, then the shard (a shard without its statistics is redone)."""
    stats = dict(result)
    data = stats.pop("_bytes")
    shard_path = output_dir / stats["shard"]
    write_json_atomic(shard_path.with_suffix(".json"), stats)
    write_bytes_atomic(shard_path, data)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """torch's intra-op threads set to ``threads`` inside (0, or torch not loaded by
    a teacher: left as they are)."""
    torch = sys.modules.get("torch")
    if threads <= 0 or torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _annotate_locally(
    teachers: List[Teacher],
    shards: Iterable[Tuple[int, Chunk]],
    output_dir: Path,
    settings: ShardSettings,
    threads: int,
    progress: bool,
) -> Tuple[int, int]:
    """The local engine: the shards not on disk yet, one after the other in this
    process. Returns the number of input docs annotated and of shards resumed."""
    bar = _progress(progress)
    n_new = n_resumed = 0
    with torch_threads(threads):
        for index, chunk in shards:
            if shard_done(output_dir, index):
                n_resumed += 1
            else:
                write_shard(
                    output_dir, annotate_shard(teachers, settings, index, chunk)
                )
                n_new += len(chunk)
            bar.update(len(chunk))
    bar.close()
    return n_new, n_resumed


def annotate_shard(
    teachers: List[Teacher], settings: ShardSettings, index: int, chunk: Chunk
) -> Dict[str, Any]:
    """Annotate shard ``index``'s input items: its statistics, and under ``_bytes``
    the shard's DocBin bytes (for ``write_shard``). Teachers' probabilities are
    calibrated at their temperatures before they are recorded and combined."""
    labels, multi_label = teachers[0].labels, teachers[0].multi_label
    kept = [(i, t) for i, t in chunk if not is_blank(t)]
    texts = [t for _, t in kept]
    order = length_order(texts) if settings.sort_by_length else None
    per_teacher = {}
    docs: List[Any] = []
    for t in teachers:
        probs, teacher_docs = run_teacher(
            t, texts, labels, settings.batch_size, settings.n_process, order=order
        )
        temperature = settings.temperatures.get(t.name)
        per_teacher[t.name] = calibrated(probs, temperature, multi_label)
        docs = docs or teacher_docs  # the first teacher's tokenization is kept
    return build_shard(
        SHARD_PATTERN.format(index), len(chunk), [i for i, _ in kept], docs,
        per_teacher, labels=labels, multi_label=multi_label, settings=settings,
    )  # fmt: skip


def build_shard(
    name: str,
    n_input: int,
    ids: Sequence[Any],
    docs: Sequence[Doc],
    per_teacher: Dict[str, numpy.ndarray],
    *,
    labels: List[str],
    multi_label: bool,
    settings: ShardSettings,
) -> Dict[str, Any]:
    """Mark the docs of one shard with the teachers' probabilities (a teacher's name
    -> (n_docs, n_labels) in ``labels`` order, in the order of
    ``settings.weights``) and pack them: the shard's statistics and ``_bytes``.

    n_input: the shard's input docs, blank ones included (``ids``/``docs``: the
    others, in order).
    """
    weights, threshold = settings.weights, settings.threshold
    names = list(per_teacher)
    pairs = list(itertools.combinations(names, 2))
    kept: List[Doc] = []
    n_dropped = 0
    label_totals = numpy.zeros(len(labels))
    conf_sum = 0.0
    agree = {f"{a}|{b}": 0 for a, b in pairs}
    for j, doc_id in enumerate(ids):
        probs = {name: p[j] for name, p in per_teacher.items()}
        combined = sum(w * probs[name] for w, name in zip(weights, names))
        conf = confidence(combined, multi_label)
        if conf < settings.min_confidence:
            n_dropped += 1
            continue
        doc = docs[j]
        doc.user_data.clear()
        mark_pseudo(
            doc, labels=labels,
            probs={n: p.tolist() for n, p in probs.items()},
            weights=dict(zip(names, weights)),
            multi_label=multi_label, hard=settings.hard, threshold=threshold,
        )  # fmt: skip
        doc.user_data[ID_KEY] = doc_id
        kept.append(doc)
        conf_sum += conf
        label_totals += hard_labels(
            combined, multi_label=multi_label, threshold=threshold
        )
        decided = {
            n: hard_labels(p, multi_label=multi_label, threshold=threshold)
            for n, p in probs.items()
        }
        for a, b in pairs:
            agree[f"{a}|{b}"] += int(numpy.array_equal(decided[a], decided[b]))
    data, n_written = docbin_bytes(kept)
    return {
        "shard": name,
        "n_input": n_input,
        "n_empty_skipped": n_input - len(ids),
        "n_dropped_low_confidence": n_dropped,
        "n_written": n_written,
        "label_totals": label_totals.tolist(),
        "confidence_sum": conf_sum,
        "agreement_counts": agree,
        "_bytes": data,
    }


def _progress(enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=None, unit="doc", disable=not enabled, desc="annotate", smoothing=0.1
    )
