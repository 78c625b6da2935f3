"""Convert JSONL or CSV rows into a DocBin with ``doc.cats``, plus its label schema."""

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from spacy_kd.data.docbin import docbin_bytes
from spacy_kd.data.labels import LabelSchema
from spacy_kd.data.language import blank_language
from spacy_kd.data.records import Record, read_records
from spacy_kd.errors import DataError
from spacy_kd.util import (
    OVERWRITE_FLAG,
    SUM_TOLERANCE,
    check_default_output,
    check_outputs,
    check_writable,
    json_text,
    write_bytes_atomic,
)

PathLike = Union[str, Path]
LABELS_FILE = "labels.json"  # the label set's default file, beside the DocBin


@dataclass
class ConvertSummary:
    """What a conversion wrote, and what it skipped."""

    output: str
    n_docs: int
    n_labelled: int
    n_unlabelled: int
    n_empty_skipped: int
    multi_label: Optional[bool]
    labels: List[str]
    label_counts: Dict[str, int] = field(default_factory=dict)
    empty_lines: List[int] = field(default_factory=list)

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


def infer_schema(
    records: List[Record],
    path: Union[str, Path, None],
    *,
    held: Optional[LabelSchema] = None,
    multi_label: Optional[bool] = None,
) -> LabelSchema:
    """Decide the label set and exclusive vs multi-label; check every row against it.

    Exclusive unless a row uses ``labels`` or a ``cats`` row does not sum to 1;
    ``multi_label`` (or the held schema) overrides the guess and is then enforced.
    """
    if held is not None and held.multi_label is not None:
        if multi_label is not None and multi_label != held.multi_label:
            raise DataError(
                path,
                f"asked for multi_label={multi_label}, but the held label set says "
                f"multi_label={held.multi_label}",
            )
        multi_label = held.multi_label
    labelled = [r for r in records if r.is_labelled]
    if multi_label is None:
        multi_label = any(
            r.kind == "labels"
            or (r.kind == "cats" and abs(sum(r.cats.values()) - 1.0) > SUM_TOLERANCE)  # type: ignore[union-attr]
            for r in labelled
        )
    if held is not None:
        known = set(held.labels)
        for r in labelled:
            for name in r.label_names():
                if name not in known:
                    raise DataError(
                        path,
                        f"label {name!r} is not in the held label set "
                        f"({len(held.labels)} labels: {_preview(held.labels)})",
                        line=r.line,
                    )
        labels = list(held.labels)
    else:
        labels = sorted({name for r in labelled for name in r.label_names()})
    if not multi_label:
        for r in labelled:
            if r.kind == "labels" and len(r.labels or []) != 1:
                raise DataError(
                    path,
                    f"exclusive labels need exactly one label per row, found "
                    f"{len(r.labels or [])} in 'labels'",
                    line=r.line,
                )
            if r.kind == "cats":
                total = sum(r.cats.values())  # type: ignore[union-attr]
                if abs(total - 1.0) > SUM_TOLERANCE:
                    raise DataError(
                        path,
                        f"exclusive 'cats' must sum to 1, these sum to {total:.6g}",
                        line=r.line,
                    )
    return LabelSchema(labels=labels, multi_label=multi_label)


def record_cats(record: Record, labels: List[str]) -> Dict[str, float]:
    """The full ``doc.cats`` dict of a labelled record over ``labels``."""
    cats = {name: 0.0 for name in labels}
    if record.kind == "cats":
        cats.update(record.cats or {})
    else:
        for name in record.label_names():
            cats[name] = 1.0
    return cats


def records_to_docs(
    nlp: Language,
    records: Iterable[Record],
    schema: LabelSchema,
    *,
    batch_size: int = 256,
) -> Iterable[Doc]:
    """Tokenize records and set ``doc.cats`` (empty for unlabelled rows)."""
    pending: List[Record] = []

    def flush() -> Iterable[Doc]:
        texts = [r.text for r in pending]
        for record, doc in zip(
            pending, nlp.tokenizer.pipe(texts, batch_size=batch_size)
        ):
            if record.is_labelled:
                doc.cats = record_cats(record, schema.labels)
            yield doc
        pending.clear()

    for record in records:
        pending.append(record)
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()


def drop_empty(records: Iterable[Record]) -> Tuple[List[Record], List[int]]:
    """Split off rows whose text is empty or whitespace.

    Return the kept rows and the lines of the dropped ones.
    """
    kept, empty = [], []
    for r in records:
        if r.text.strip():
            kept.append(r)
        else:
            empty.append(r.line)
    return kept, empty


def check_schema_file(path: Path, schema: LabelSchema, overwrite: bool) -> bool:
    """Whether to write ``schema`` to ``path``: not if it already holds this label
    set; an error if it holds another one (or is not a label file) unless
    ``overwrite``."""
    if not path.exists():
        check_writable(path)
        return True
    try:
        old = LabelSchema.from_disk(path)
    except DataError:  # not a label file: replaced only with --overwrite
        return check_default_output(path, json_text(schema.to_dict()), overwrite)
    if old.labels == schema.labels and old.multi_label == schema.multi_label:
        return False
    if overwrite:
        return True
    raise DataError(
        path,
        "already holds a different label set "
        f"({len(old.labels)} labels, multi_label={old.multi_label}) than this "
        f"corpus ({len(schema.labels)} labels, multi_label={schema.multi_label}); "
        "hold the corpus to it with --labels, write elsewhere with --labels-out, "
        f"or replace it with {OVERWRITE_FLAG}",
    )


@dataclass
class Conversion:
    """A conversion done in memory, nothing written yet: the DocBin's bytes, the
    label set and its file (None: none to write), and the summary."""

    output_path: Path
    docbin: bytes
    schema: LabelSchema
    labels_path: Optional[Path]
    summary: ConvertSummary


def plan_conversion(
    input_path: PathLike,
    output_path: PathLike,
    *,
    fmt: Optional[str] = None,
    labels: Union[PathLike, LabelSchema, None] = None,
    multi_label: Optional[bool] = None,
    labels_path: Optional[PathLike] = None,
    lang: str = "en",
) -> Conversion:
    """Read, check and convert ``input_path`` in memory (see :func:`convert`).

    labels: the label set to hold the corpus to (a labels.json, or the schema).
    labels_path: where the label set should go (None: nowhere).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if isinstance(labels, LabelSchema) or labels is None:
        held = labels
    else:
        held = LabelSchema.from_disk(labels)
    records, empty_lines = drop_empty(read_records(input_path, fmt))
    schema = infer_schema(records, input_path, held=held, multi_label=multi_label)
    data, n_docs = docbin_bytes(records_to_docs(blank_language(lang), records, schema))
    counts: Counter = Counter()
    for r in records:
        if r.is_labelled:
            cats = record_cats(r, schema.labels)
            counts.update(name for name, v in cats.items() if v >= 0.5)
    n_labelled = sum(r.is_labelled for r in records)
    summary = ConvertSummary(
        output=str(output_path),
        n_docs=n_docs,
        n_labelled=n_labelled,
        n_unlabelled=n_docs - n_labelled,
        n_empty_skipped=len(empty_lines),
        multi_label=schema.multi_label if n_labelled else None,
        labels=schema.labels,
        label_counts={name: counts[name] for name in schema.labels},
        empty_lines=empty_lines,
    )
    return Conversion(
        output_path=output_path,
        docbin=data,
        schema=schema,
        labels_path=Path(labels_path) if labels_path and schema.labels else None,
        summary=summary,
    )


def convert(
    input_path: PathLike,
    output_path: PathLike,
    *,
    fmt: Optional[str] = None,
    labels: Optional[PathLike] = None,
    multi_label: Optional[bool] = None,
    labels_out: Optional[PathLike] = None,
    lang: str = "en",
    overwrite: bool = False,
    extra_outputs: Sequence[Optional[PathLike]] = (),
) -> ConvertSummary:
    """Convert a JSONL or CSV file into a DocBin with ``doc.cats``.

    labels: a labels.json to hold the corpus to; a label outside it is an error.
    multi_label: force multi-label (True) or exclusive (False) instead of detecting.
    labels_out: where to write the label schema (default: labels.json beside output,
        unless that is the ``labels`` file itself). An existing label file with
        another label set is refused unless ``overwrite``.
    extra_outputs: files the caller will write afterwards (a summary), checked with
        the others. Nothing is written unless the whole input is valid and no output
        is an input or another output.
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if labels_out:
        labels_path: Optional[Path] = Path(labels_out)
    else:
        labels_path = output_path.parent / LABELS_FILE
        if labels is not None and labels_path.resolve() == Path(labels).resolve():
            labels_path = None  # the held label file is already beside the output
    check_outputs([input_path, labels], [output_path, labels_path, *extra_outputs])
    conversion = plan_conversion(
        input_path, output_path, fmt=fmt, labels=labels, multi_label=multi_label,
        labels_path=labels_path, lang=lang,
    )  # fmt: skip
    write_labels = conversion.labels_path is not None and check_schema_file(
        conversion.labels_path, conversion.schema, overwrite
    )
    write_bytes_atomic(output_path, conversion.docbin)
    if write_labels:
        conversion.schema.to_disk(conversion.labels_path)  # type: ignore[arg-type]
    return conversion.summary


def _preview(items: List[str], n: int = 8) -> str:
    shown = ", ".join(items[:n])
    return shown + (", ..." if len(items) > n else "")
