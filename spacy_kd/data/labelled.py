"""The one reader of labelled documents for scoring: a DocBin or a JSONL/CSV file."""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Union

from spacy_kd.data.convert import drop_empty, infer_schema, record_cats
from spacy_kd.data.docbin import read_docbin
from spacy_kd.data.records import read_records
from spacy_kd.errors import DataError
from spacy_kd.util import SUM_TOLERANCE


@dataclass
class Labelled:
    """Texts and gold ``cats`` of every document with text, in file order.

    where: how to point at each document in a message ("line 17", "doc 3").
    multi_label: whether some document's gold values do not sum to 1 (DocBin), or
        the file's label schema says so (JSONL/CSV).
    """

    texts: List[str]
    cats: List[Dict[str, float]]
    where: List[str]
    multi_label: bool


def read_labelled(path: Union[str, Path], purpose: str = "evaluation") -> Labelled:
    """Read a labelled DocBin (``.spacy``) or JSONL/CSV file; documents without
    text are skipped, a document without labels is an error.

    purpose: what the labels are for, said in errors ("evaluation needs gold cats").
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a .spacy, .jsonl or .csv file")
    data = Labelled(texts=[], cats=[], where=[], multi_label=False)
    if path.suffix.lower() == ".spacy":
        for i, doc in enumerate(read_docbin(path)):
            if not doc.text.strip():
                continue
            if not doc.cats:
                raise DataError(
                    path, f"doc {i} has no labels: {purpose} needs gold cats"
                )
            data.texts.append(doc.text)
            data.cats.append({k: float(v) for k, v in doc.cats.items()})
            data.where.append(f"doc {i}")
            data.multi_label |= abs(sum(doc.cats.values()) - 1.0) > SUM_TOLERANCE
        return data
    records, _ = drop_empty(read_records(path, require_text=False))
    for record in records:
        if not record.is_labelled:
            raise DataError(
                path,
                f"unlabelled row: {purpose} needs 'label', 'labels' or 'cats'",
                line=record.line,
            )
    schema = infer_schema(records, path)
    data.multi_label = bool(schema.multi_label)
    for record in records:
        data.texts.append(record.text)
        data.cats.append(record_cats(record, schema.labels))
        data.where.append(f"line {record.line}")
    return data
