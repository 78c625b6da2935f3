"""Readers and converters.

JSONL/CSV <-> DocBin, label schemas, splits, 20 Newsgroups.
"""

from spacy_kd.data.convert import ConvertSummary, convert, records_to_docs
from spacy_kd.data.labels import LabelSchema
from spacy_kd.data.records import Record, read_records
from spacy_kd.data.split import split_corpus

__all__ = [
    "ConvertSummary",
    "LabelSchema",
    "Record",
    "convert",
    "read_records",
    "records_to_docs",
    "split_corpus",
]
