"""Readers and converters: JSONL/CSV <-> DocBin, label schemas, splits, 20 Newsgroups."""

from .convert import ConvertSummary, convert, records_to_docs
from .labels import LabelSchema
from .records import Record, read_records
from .split import split_corpus

__all__ = [
    "ConvertSummary",
    "LabelSchema",
    "Record",
    "convert",
    "read_records",
    "records_to_docs",
    "split_corpus",
]
