"""Pseudo-annotation: teachers label unlabelled text into resumable DocBin shards.

``annotate`` runs every teacher pipeline over the input, combines their
probabilities by weight, records each teacher's own output on the doc (see
``spacy_kd.annotate.pseudo``) and writes shards of ``shard_size`` input docs.
Shard ``i`` always holds what became of input docs ``[i * shard_size, (i + 1) *
shard_size)``, so a rerun after a crash skips the shards already written (each is
written to a temporary file and renamed) and produces the same files as an
uninterrupted run. ``manifest.json`` records the settings; an output folder whose
manifest differs is refused, so shards of different runs never mix.
"""

import hashlib
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from spacy_kd.annotate.pseudo import hard_labels, mark_pseudo
from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.data.records import read_records
from spacy_kd.data.texts import read_texts
from spacy_kd.errors import DataError
from spacy_kd.util import write_bytes_atomic, write_json_atomic

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
SHARD_PATTERN = "shard-{:05d}.spacy"
_EPS = 1e-7


@dataclass
class Teacher:
    """A loaded teacher pipeline and the text classifier inside it."""

    name: str
    path: str
    nlp: Language
    component: str
    labels: List[str]
    multi_label: bool


def find_textcat(nlp: Language, where: str) -> Tuple[str, List[str], bool]:
    """The (name, labels, multi_label) of the pipeline's text classifier."""
    from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer

    found = [(n, p) for n, p in nlp.pipeline if isinstance(p, TextCategorizer)]
    if not found:
        names = [n for n, _ in nlp.pipeline] or ["(none)"]
        raise DataError(
            where,
            f"the pipeline has no text classifier (components: {', '.join(names)})",
        )
    if len(found) > 1:
        raise DataError(
            where,
            f"the pipeline has several text classifiers ({[n for n, _ in found]}); "
            "keep one per teacher",
        )
    name, pipe = found[0]
    return name, list(pipe.labels), isinstance(pipe, MultiLabel_TextCategorizer)


def teacher_name(path: Path) -> str:
    """A teacher's name in the records: its folder's, or for ``spacy train``'s
    model-best / model-last the training folder's (``training/teacher_bert/model-best``
    is ``teacher_bert``)."""
    path = Path(path).resolve()
    if path.name in ("model-best", "model-last") and path.parent.name:
        return path.parent.name
    return path.name


def load_teachers(paths: Sequence[Union[str, Path]]) -> List[Teacher]:
    """Load teacher pipelines and check that they classify into the same labels."""
    if not paths:
        raise DataError(None, "annotate needs at least one teacher pipeline")
    teachers: List[Teacher] = []
    for path in paths:
        path = Path(path)
        if not (path / "config.cfg").exists() or not (path / "meta.json").exists():
            raise DataError(
                path, "not a spaCy pipeline folder (no config.cfg / meta.json)"
            )
        nlp = spacy.load(path)
        component, labels, multi_label = find_textcat(nlp, str(path))
        # no feature caches to turn off: a frozen encoder caches only in the process
        # that trained it (spacy_kd.teachers.frozen), never in a loaded pipeline
        name = teacher_name(path)
        if any(t.name == name for t in teachers):
            name = f"{name}-{len(teachers)}"
        teachers.append(Teacher(name, str(path), nlp, component, labels, multi_label))
    first = teachers[0]
    for other in teachers[1:]:
        if set(other.labels) != set(first.labels):
            raise DataError(
                other.path,
                f"its labels differ from those of {first.path}: only in {other.name}: "
                f"{sorted(set(other.labels) - set(first.labels))}; only in {first.name}: "
                f"{sorted(set(first.labels) - set(other.labels))}",
            )
        if other.multi_label != first.multi_label:
            raise DataError(
                other.path,
                f"multi_label={other.multi_label} but {first.path} has "
                f"multi_label={first.multi_label}",
            )
    return teachers


def logits_from_probs(p: numpy.ndarray, multi_label: bool) -> numpy.ndarray:
    """Logits that reproduce ``p``: log p (exclusive: softmax-invariant) or logit(p)."""
    q = numpy.clip(p, _EPS, 1.0 - _EPS) if multi_label else numpy.clip(p, _EPS, 1.0)
    return numpy.log(q / (1.0 - q)) if multi_label else numpy.log(q)


def confidence(p: numpy.ndarray, multi_label: bool) -> float:
    """Max probability (exclusive); the least certain label decision (multi-label)."""
    if multi_label:
        return float(numpy.min(numpy.maximum(p, 1.0 - p))) if p.size else 1.0
    return float(p.max()) if p.size else 0.0


def is_blank(item: Union[str, Doc]) -> bool:
    """Whether a text or Doc holds nothing but whitespace (a Doc's first word decides)."""
    if isinstance(item, Doc):
        return all(token.is_space for token in item)
    return not item.strip()


def teacher_probs(
    teacher: Teacher,
    texts: List[str],
    labels: List[str],
    batch_size: int,
    n_process: int,
) -> numpy.ndarray:
    """Run a teacher on texts: an array (n_docs, n_labels) in ``labels`` order."""
    return run_teacher(teacher, texts, labels, batch_size, n_process)[0]


def run_teacher(
    teacher: Teacher,
    texts: List[Union[str, Doc]],
    labels: List[str],
    batch_size: int,
    n_process: int,
) -> Tuple[numpy.ndarray, List[Any]]:
    """Run a teacher on texts or Docs: its probabilities in ``labels`` order, and its docs."""
    out = numpy.zeros((len(texts), len(labels)), dtype="float64")
    docs = []
    for i, doc in enumerate(
        teacher.nlp.pipe(texts, batch_size=batch_size, n_process=n_process)
    ):
        out[i] = [doc.cats.get(label, 0.0) for label in labels]
        docs.append(doc)
    return out, docs


def fit_weights(
    teachers: List[Teacher],
    dev_path: Union[str, Path],
    labels: List[str],
    *,
    batch_size: int = 64,
    steps: int = 20,
) -> List[float]:
    """Weights that minimise the combined teachers' log-loss on labelled dev data.

    A grid over the simplex with ``steps`` divisions (2 or 3 teachers), else
    coordinate descent on the same grid. Returns weights summing to 1.
    """
    dev_path = Path(dev_path)
    if dev_path.suffix == ".spacy":
        docs = read_docbin(dev_path)
    else:
        from spacy_kd.data.convert import drop_empty, infer_schema, records_to_docs

        records, _ = drop_empty(read_records(dev_path))
        schema = infer_schema(records, dev_path)
        docs = list(records_to_docs(spacy.blank("en"), records, schema))
    docs = [d for d in docs if d.cats]
    if not docs:
        raise DataError(dev_path, "no labelled docs to fit teacher weights on")
    unknown = {k for d in docs for k in d.cats} - set(labels)
    if unknown:
        raise DataError(
            dev_path, f"labels not known to the teachers: {sorted(unknown)}"
        )
    gold = numpy.asarray([[d.cats.get(label, 0.0) for label in labels] for d in docs])
    texts = [d.text for d in docs]
    probs = [teacher_probs(t, texts, labels, batch_size, 1) for t in teachers]
    multi = teachers[0].multi_label

    def loss(w: Sequence[float]) -> float:
        p = sum(wi * pi for wi, pi in zip(w, probs))
        p = numpy.clip(p, _EPS, 1 - _EPS)
        if multi:
            return float(-(gold * numpy.log(p) + (1 - gold) * numpy.log(1 - p)).mean())
        return float(-(gold * numpy.log(p)).sum(axis=1).mean())

    k = len(teachers)
    if k == 1:
        return [1.0]
    grid = (
        [
            [c / steps for c in combo] + [(steps - sum(combo)) / steps]
            for combo in itertools.product(range(steps + 1), repeat=k - 1)
            if sum(combo) <= steps
        ]
        if k <= 3
        else None
    )
    if grid is not None:
        return min(grid, key=loss)
    w = [1.0 / k] * k
    for _ in range(3):
        for j in range(k):
            candidates = []
            for c in range(steps + 1):
                trial = list(w)
                trial[j] = c / steps
                total = sum(trial)
                if total > 0:
                    candidates.append([x / total for x in trial])
            w = min(candidates, key=loss)
    return w


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
    seconds: float = 0.0
    docs_per_second: float = 0.0

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.__dict__)


def _manifest(
    teachers: List[Teacher],
    weights: List[float],
    input_path: Path,
    settings: Dict[str, Any],
) -> Dict[str, Any]:
    stat = input_path.stat()
    teacher_info = []
    for t in teachers:
        meta = t.nlp.meta
        teacher_info.append(
            {
                "name": t.name,
                "path": str(Path(t.path).resolve()),
                "pipeline": f"{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}",
                "labels_sha1": hashlib.sha1(
                    "\n".join(sorted(t.labels)).encode()
                ).hexdigest(),
            }
        )
    return {
        "teachers": teacher_info,
        "weights": [round(w, 10) for w in weights],
        "input": {"path": str(input_path.resolve()), "size": stat.st_size},
        **settings,
    }


def _check_manifest(output_dir: Path, manifest: Dict[str, Any]) -> bool:
    """True if shards of this very run may be resumed; raise if another run's are there."""
    path = output_dir / MANIFEST
    shards = sorted(output_dir.glob("shard-*.spacy"))
    if not path.exists():
        if shards:
            raise DataError(
                output_dir,
                f"holds {len(shards)} shards but no {MANIFEST}: not an annotate output "
                "folder of this run; choose another output folder",
            )
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(path, f"unreadable manifest: {e}") from None
    if old != manifest:
        diff = sorted(
            k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k)
        )
        raise DataError(
            output_dir,
            f"holds shards from a different run (differs in: {', '.join(diff)}); "
            "nothing was overwritten: choose another output folder or delete it",
        )
    return True


def chunked(items: Iterable[Any], size: int) -> Iterator[List[Any]]:
    it = iter(items)
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


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
    progress: bool = True,
) -> AnnotateSummary:
    """Pseudo-annotate ``input_path`` with the teachers into shards in ``output_dir``.

    weights: one per teacher (normalised); or weights_from_dev: labelled dev data
    to fit them on. hard: 0/1 labels (argmax, or >= threshold for multi-label).
    min_confidence: drop docs whose confidence is below it (see ``confidence``).
    """
    input_path, output_dir = Path(input_path), Path(output_dir)
    if shard_size < 1 or batch_size < 1:
        raise DataError(None, "--shard-size and --batch-size must be >= 1")
    if not 0.0 <= min_confidence <= 1.0:
        raise DataError(
            None, f"--min-confidence must be in [0, 1], got {min_confidence}"
        )
    if not input_path.exists():
        raise DataError(input_path, "file not found")
    teachers = load_teachers(teacher_paths)
    labels = teachers[0].labels
    multi_label = teachers[0].multi_label
    if weights is not None and weights_from_dev is not None:
        raise DataError(None, "give --weights or --weights-from-dev, not both")
    if weights_from_dev is not None:
        weights = fit_weights(teachers, weights_from_dev, labels, batch_size=batch_size)
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
        "multi_label": multi_label,
    }  # fmt: skip
    manifest = _manifest(teachers, weights, input_path, settings)
    resuming = _check_manifest(output_dir, manifest)
    output_dir.mkdir(parents=True, exist_ok=True)
    if not resuming:
        write_json_atomic(output_dir / MANIFEST, manifest)

    # a DocBin's docs go to the teachers as they are: no second tokenization
    items: Iterable[Tuple[Any, Union[str, Doc]]] = read_texts(
        input_path, vocab=teachers[0].nlp.vocab
    )
    if limit > 0:
        items = itertools.islice(items, limit)
    bar = _progress(progress)
    start = time.perf_counter()
    n_new = n_resumed = 0
    for shard_index, chunk in enumerate(chunked(items, shard_size)):
        shard_path = output_dir / SHARD_PATTERN.format(shard_index)
        stats_path = shard_path.with_suffix(".json")
        if shard_path.exists() and stats_path.exists():
            n_resumed += 1
        else:
            stats = _annotate_shard(
                teachers, weights, chunk, shard_path,
                hard=hard, threshold=threshold, min_confidence=min_confidence,
                batch_size=batch_size, n_process=n_process,
            )  # fmt: skip
            n_new += len(chunk)
            data = stats.pop("_bytes")
            # stats first, then the shard: a shard without its stats is redone
            write_json_atomic(stats_path, stats)
            write_bytes_atomic(shard_path, data)
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - start
    summary = summarize(output_dir, teachers, weights)
    summary.n_shards_resumed = n_resumed
    summary.seconds = seconds
    summary.docs_per_second = n_new / seconds if seconds > 0 else 0.0
    write_json_atomic(output_dir / SUMMARY, summary.to_dict())
    return summary


def _annotate_shard(
    teachers: List[Teacher],
    weights: List[float],
    chunk: List[Tuple[Any, str]],
    shard_path: Path,
    *,
    hard: bool,
    threshold: float,
    min_confidence: float,
    batch_size: int,
    n_process: int,
) -> Dict[str, Any]:
    """Annotate one shard's input docs: the DocBin bytes and the shard's statistics."""
    labels, multi_label = teachers[0].labels, teachers[0].multi_label
    kept = [(i, t) for i, t in chunk if not is_blank(t)]
    texts = [t for _, t in kept]
    per_teacher = {}
    docs: List[Any] = []
    for t in teachers:
        per_teacher[t.name], teacher_docs = run_teacher(
            t, texts, labels, batch_size, n_process
        )
        docs = docs or teacher_docs  # the first teacher's tokenization is kept
    names = [t.name for t in teachers]
    pairs = list(itertools.combinations(names, 2))
    doc_bin = DocBin(store_user_data=True)
    n_dropped = 0
    label_totals = numpy.zeros(len(labels))
    conf_sum = 0.0
    agree = {f"{a}|{b}": 0 for a, b in pairs}
    for j, (doc_id, _item) in enumerate(kept):
        probs = {name: p[j] for name, p in per_teacher.items()}
        combined = sum(w * probs[name] for w, name in zip(weights, names))
        conf = confidence(combined, multi_label)
        if conf < min_confidence:
            n_dropped += 1
            continue
        doc = docs[j]
        doc.user_data.clear()
        mark_pseudo(
            doc, labels=labels,
            probs={n: p.tolist() for n, p in probs.items()},
            weights=dict(zip(names, weights)),
            logits={n: logits_from_probs(p, multi_label).tolist() for n, p in probs.items()},
            multi_label=multi_label, hard=hard, threshold=threshold,
        )  # fmt: skip
        doc.user_data[ID_KEY] = doc_id
        doc_bin.add(doc)
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
    return {
        "shard": shard_path.name,
        "n_input": len(chunk),
        "n_empty_skipped": len(chunk) - len(kept),
        "n_dropped_low_confidence": n_dropped,
        "n_written": len(doc_bin),
        "label_totals": label_totals.tolist(),
        "confidence_sum": conf_sum,
        "agreement_counts": agree,
        "_bytes": doc_bin.to_bytes(),
    }


def summarize(
    output_dir: Path, teachers: List[Teacher], weights: List[float]
) -> AnnotateSummary:
    """Counts, label distribution, confidence and teacher agreement over every shard.

    Read from the per-shard statistics files, so resumed shards are counted too.
    """
    labels = teachers[0].labels
    summary = AnnotateSummary(
        output_dir=str(output_dir), teachers=[t.name for t in teachers], weights=weights
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


def _progress(enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=None, unit="doc", disable=not enabled, desc="annotate", smoothing=0.1
    )


def iter_shards(output_dir: Union[str, Path]) -> List[Path]:
    """The shard files of an annotate output folder, in order."""
    return sorted(Path(output_dir).glob("shard-*.spacy"))
