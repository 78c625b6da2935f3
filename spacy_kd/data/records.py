"""Read labelled or unlabelled text rows from JSONL or CSV, with exact error locations.

A row has ``text`` and at most one of ``label`` (one class), ``labels`` (a list:
multi-label) or ``cats`` (a dict of label -> float in [0, 1]). A row with none of
them is unlabelled. Every problem is raised as a :class:`DataError` naming the file
and the line.
"""

import csv
import io
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

from spacy_kd.errors import DataError

LABEL_KEYS = ("label", "labels", "cats")
FORMATS = ("jsonl", "csv")
# Python's csv module refuses fields over 131,072 characters by default; long
# documents are normal. The limit is a C long, so clip sys.maxsize on Windows.
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)
SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Record:
    """One input row. ``kind`` is the label key used, or None if unlabelled."""

    text: str
    line: int
    kind: Optional[str] = None
    label: Optional[str] = None
    labels: Optional[List[str]] = None
    cats: Optional[Dict[str, float]] = None
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def is_labelled(self) -> bool:
        return self.kind is not None

    def label_names(self) -> List[str]:
        """Every label this row mentions (for cats: every key)."""
        if self.kind == "label":
            return [self.label]  # type: ignore[list-item]
        if self.kind == "labels":
            return list(self.labels or [])
        if self.kind == "cats":
            return list(self.cats or {})
        return []


def detect_format(path: Union[str, Path], fmt: Optional[str] = None) -> str:
    """Return 'jsonl' or 'csv' from ``fmt`` or the file extension."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise DataError(path, f"unknown format {fmt!r}; expected one of {FORMATS}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise DataError(
        path,
        f"cannot tell the format from the extension {suffix!r}: use .jsonl or .csv",
    )


def read_records(
    path: Union[str, Path], fmt: Optional[str] = None, *, require_text: bool = True
) -> Iterator[Record]:
    """Yield the rows of a JSONL or CSV file as validated :class:`Record` objects.

    require_text: a file without a single row with text (no rows, a CSV header
        only, or only empty texts) is an error, raised once the file is read.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file")
    fmt = detect_format(path, fmt)
    rows = _read_jsonl(path) if fmt == "jsonl" else _read_csv(path)
    n_rows = n_with_text = 0
    for record in rows:
        n_rows += 1
        n_with_text += bool(record.text.strip())
        yield record
    if require_text and not n_with_text:
        raise no_documents(path, n_rows)


def no_documents(path: Union[str, Path], n_rows: int) -> DataError:
    """The error for a file with no document to read (``n_rows`` blank ones)."""
    if n_rows:
        what = f"all {n_rows} rows have an empty text"
    elif str(path).lower().endswith((".csv", ".tsv")):
        what = "the file has no rows below the header"
    else:
        what = "the file is empty"
    return DataError(path, f"no documents: {what}")


def _decode_error(
    path: Path, data: bytes, err: UnicodeDecodeError, line_offset: int = 0
):
    line = data[: err.start].count(b"\n") + 1 + line_offset
    bad = data[err.start : err.end]
    return DataError(
        path,
        f"cannot decode bytes {bad!r} as UTF-8 ({err.reason}); "
        "re-encode the file as UTF-8",
        line=line,
    )


def _read_jsonl(path: Path) -> Iterator[Record]:
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _decode_error(path, raw, e, line_offset=line_no - 1) from None
            if line_no == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    path, f"invalid JSON at column {e.colno}: {e.msg}", line=line_no
                ) from None
            except (ValueError, RecursionError) as e:  # huge ints, deep nesting
                raise DataError(
                    path, f"unreadable JSON: {_reason(e)}", line=line_no
                ) from None
            if not isinstance(row, dict):
                raise DataError(
                    path,
                    f"expected a JSON object with a 'text' key, got {_type(row)}",
                    line=line_no,
                )
            yield _make_record(path, line_no, row)


def _read_csv(path: Path) -> Iterator[Record]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _decode_error(path, data, e) from None
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: Optional[List[str]] = None
    prev_line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(path, f"invalid CSV: {e}", line=prev_line + 1) from None
        line_no = prev_line + 1  # the line this row starts on
        prev_line = reader.line_num
        if header is None:
            header = [c.strip() for c in cells]
            if "text" not in header:
                raise DataError(
                    path, f"the header has no 'text' column (found: {header})", line=1
                )
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                raise DataError(path, f"duplicate header columns {dupes}", line=1)
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise DataError(
                path,
                f"expected {len(header)} fields (as in the header), found {len(cells)}",
                line=line_no,
            )
        row: Dict[str, Any] = dict(zip(header, cells))
        for key in LABEL_KEYS:
            if key in row:
                row[key] = _parse_csv_label_cell(path, line_no, key, row[key])
        yield _make_record(path, line_no, row)
    if header is None:
        raise DataError(path, "empty CSV file: expected a header with a 'text' column")


def _parse_csv_label_cell(path: Path, line_no: int, key: str, cell: str) -> Any:
    """CSV cells are strings.

    ``labels`` is a JSON list or '|'-separated; ``cats`` is JSON.
    """
    cell = cell.strip()
    if not cell:
        return None
    if key == "label":
        return cell
    if key == "labels" and not cell.startswith("["):
        return [part.strip() for part in cell.split("|") if part.strip()]
    try:
        return json.loads(cell)
    except json.JSONDecodeError as e:
        raise DataError(
            path,
            f"the '{key}' cell is not valid JSON ({e.msg}): {cell[:60]!r}",
            line=line_no,
        ) from None
    except (ValueError, RecursionError) as e:  # huge ints, deep nesting
        raise DataError(
            path, f"the '{key}' cell is unreadable JSON: {_reason(e)}", line=line_no
        ) from None


def _reason(error: Exception) -> str:
    """Why ``json.loads`` gave up on valid-looking JSON, in a few words."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    return str(error).split(";")[0][:120]


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__} ({value!r})"
    )


def _make_record(path: Path, line_no: int, row: Dict[str, Any]) -> Record:
    if "text" not in row:
        raise DataError(path, "missing the 'text' field", line=line_no)
    _check_unicode(path, line_no, row)
    text = row["text"]
    if not isinstance(text, str):
        raise DataError(
            path, f"'text' must be a string, got {_type(text)}", line=line_no
        )
    present = [k for k in LABEL_KEYS if row.get(k) is not None]
    if len(present) > 1:
        raise DataError(
            path,
            f"a row may have only one of 'label', 'labels', 'cats'; found {present}",
            line=line_no,
        )
    meta = {k: v for k, v in row.items() if k != "text" and k not in LABEL_KEYS}
    record = Record(text=text, line=line_no, meta=meta)
    if not present:
        return record
    key = present[0]
    value = row[key]
    record.kind = key
    if key == "label":
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                path,
                f"'label' must be a non-empty string, got {_type(value)}",
                line=line_no,
            )
        _check_label_name(path, line_no, "label", value)
        record.label = value
    elif key == "labels":
        if not isinstance(value, list):
            raise DataError(
                path,
                f"'labels' must be a list of strings, got {_type(value)}",
                line=line_no,
            )
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise DataError(
                    path,
                    f"'labels' must hold non-empty strings, found {_type(item)}",
                    line=line_no,
                )
            _check_label_name(path, line_no, "labels", item)
        record.labels = list(dict.fromkeys(value))
    else:
        if not isinstance(value, dict):
            raise DataError(
                path,
                f"'cats' must be an object of label -> number, got {_type(value)}",
                line=line_no,
            )
        cats: Dict[str, float] = {}
        for name, score in value.items():
            _check_label_name(path, line_no, "cats", name)
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise DataError(
                    path,
                    f"cats[{name!r}] must be a number in [0, 1], got {_type(score)}",
                    line=line_no,
                )
            if not math.isfinite(score) or not 0.0 <= score <= 1.0:
                raise DataError(
                    path, f"cats[{name!r}] = {score} is outside [0, 1]", line=line_no
                )
            if score not in (0, 1):
                raise DataError(
                    path,
                    f"cats[{name!r}] = {score}: gold labels must be 0 or 1; soft "
                    "labels (a teacher's probabilities) come from `spacy_kd annotate`",
                    line=line_no,
                )
            cats[name] = float(score)
        record.cats = cats
    return record


def _check_label_name(path: Path, line_no: int, key: str, name: str) -> None:
    """A label name must be non-empty, without surrounding whitespace."""
    if not name.strip():
        raise DataError(path, f"{key}: the label name {name!r} is empty", line=line_no)
    if name != name.strip():
        raise DataError(
            path,
            f"{key}: the label name {name!r} has surrounding whitespace; "
            f"write {name.strip()!r}",
            line=line_no,
        )


def _check_unicode(path: Path, line_no: int, value: Any, where: str = "") -> None:
    """Refuse lone surrogates (a JSON escape such as \\ud800 without its pair):
    they are not text, and would fail later, far from this line."""
    if isinstance(value, str):
        found = SURROGATE.search(value)
        if found is not None:
            raise DataError(
                path,
                f"{where or 'a value'} holds a lone surrogate "
                f"{found.group().encode('unicode_escape').decode()} at character "
                f"{found.start()}: not valid Unicode (an escape cut from its pair?); "
                "fix the text",
                line=line_no,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(path, line_no, key, f"a key of {where or 'the row'}")
            _check_unicode(path, line_no, item, f"{where}[{key!r}]" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_unicode(path, line_no, item, f"{where}[{i}]")


def decode_utf8(data: bytes, where: object) -> str:
    """``data`` as UTF-8 text; undecodable bytes are a DataError naming ``where``
    and the line they are on."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise DataError(
            where, f"cannot decode as UTF-8: {e.reason}", line=line
        ) from None
