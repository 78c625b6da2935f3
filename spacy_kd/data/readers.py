"""spaCy corpus reader for labelled JSONL / CSV files.

Registered as ``spacy-kd.TextCatCorpus.v1``.
"""

from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from spacy.language import Language
from spacy.training import Corpus, Example

from spacy_kd.data.convert import drop_empty, infer_schema, records_to_docs
from spacy_kd.data.labels import LabelSchema
from spacy_kd.data.records import read_records


def create_textcat_corpus_reader(
    path: Path,
    labels: Optional[Path] = None,
    multi_label: Optional[bool] = None,
    limit: int = 0,
) -> Callable[[Language], Iterable[Example]]:
    """Read training examples straight from JSONL, CSV or a DocBin.

    labels: a labels.json to hold the data to (recommended, so that train and dev
    agree); multi_label: force the kind instead of detecting it. Unlabelled rows
    are skipped: a training corpus needs gold labels.
    """
    if Path(path).suffix == ".spacy":
        return Corpus(path, limit=limit)

    def read(nlp: Language) -> Iterator[Example]:
        held = LabelSchema.from_disk(labels) if labels is not None else None
        records, _ = drop_empty(read_records(path))
        schema = infer_schema(records, path, held=held, multi_label=multi_label)
        records = [r for r in records if r.is_labelled]
        if limit > 0:
            records = records[:limit]
        for reference in records_to_docs(nlp, records, schema):
            yield Example(nlp.make_doc(reference.text), reference)

    return read
