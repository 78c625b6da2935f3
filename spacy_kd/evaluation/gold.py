"""Gold test data for evaluation: a DocBin or JSONL/CSV file, checked for a pipeline."""

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

from spacy_kd.data.labelled import read_labelled
from spacy_kd.errors import DataError
from spacy_kd.util import SUM_TOLERANCE


@dataclass
class GoldSet:
    """Texts and gold ``doc.cats`` of a labelled test set.

    labels: every label the data mentions, in order of first appearance.
    multi_label: whether the data needs multi-label scoring (a document whose gold
    values do not sum to 1).
    where: how to point at each document in a message ("line 17", "doc 3").
    info: what the report says of the set besides its path and size (e.g. the label
    map it was read with).
    """

    path: str
    texts: List[str]
    cats: List[Dict[str, float]]
    labels: List[str]
    multi_label: bool
    where: List[str]
    n_total: int
    info: Dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def error(self, i: int, problem: str) -> DataError:
        """A DataError located at document ``i``."""
        where = self.where[i]
        if where.startswith("line "):
            return DataError(self.path, problem, line=int(where[5:]))
        return DataError(self.path, f"{where}: {problem}")


def load_gold(path: Union[str, Path], *, sample: int = 0, seed: int = 0) -> GoldSet:
    """Read a labelled DocBin (``.spacy``) or JSONL/CSV file for evaluation.

    sample: keep a seeded random sample of this many documents (0: all), in file order.
    Every document must be labelled; an empty set is an error.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "test data not found")
    data = read_labelled(path, "evaluation")
    texts, cats, where = data.texts, data.cats, data.where
    if not texts:
        raise DataError(path, "the test set is empty: no labelled document with text")
    labels = list(dict.fromkeys(label for c in cats for label in c))
    n_total = len(texts)
    if 0 < sample < n_total:
        keep = sorted(random.Random(seed).sample(range(n_total), sample))
        texts = [texts[i] for i in keep]
        cats = [cats[i] for i in keep]
        where = [where[i] for i in keep]
    return GoldSet(
        path=str(path),
        texts=texts,
        cats=cats,
        labels=labels,
        multi_label=data.multi_label,
        where=where,
        n_total=n_total,
    )


def _preview(labels: Sequence[str], n: int = 30) -> str:
    shown = ", ".join(labels[:n])
    return f"[{shown}{', ...' if len(labels) > n else ''}]"


def check_labels(
    gold: GoldSet,
    labels: Sequence[str],
    multi_label: bool,
    *,
    pipeline: str,
) -> List[str]:
    """Check the gold data can be scored against a classifier; return its unseen labels.

    The data may not use a label the classifier lacks, and an exclusive classifier needs
    exactly one gold label per document. Labels of the classifier that the data never
    mentions are returned (they are scored with zero support, as spaCy does).
    """
    known = set(labels)
    unknown = [label for label in gold.labels if label not in known]
    if unknown:
        raise DataError(
            gold.path,
            f"the labels do not match pipeline {pipeline}'s: the data has "
            f"{len(gold.labels)} labels {_preview(gold.labels)}, the pipeline has "
            f"{len(labels)} labels {_preview(list(labels))}; not in the pipeline: "
            f"{_preview(unknown)}",
        )
    if not multi_label:
        for i, doc_cats in enumerate(gold.cats):
            positive = [k for k, v in doc_cats.items() if v > 0]
            total = sum(doc_cats.values())
            if not positive or abs(total - 1.0) > SUM_TOLERANCE:
                raise gold.error(
                    i,
                    f"the gold cats {_cats_preview(doc_cats)} are not one exclusive "
                    f"label (values must sum to 1), but the text classifier of "
                    f"pipeline {pipeline} is exclusive; evaluate multi-label data "
                    "with a multi-label classifier",
                )
    seen = set(gold.labels)
    return [label for label in labels if label not in seen]


def _cats_preview(cats: Dict[str, float], n: int = 6) -> str:
    positive = {k: v for k, v in cats.items() if v > 0}
    items = ", ".join(f"{k}: {v:g}" for k, v in list(positive.items())[:n])
    more = ", ..." if len(positive) > n else ""
    return "{" + items + more + "}" + ("" if positive else " (no positive label)")


def sample_texts(texts: Sequence[str], n: int, seed: int = 0) -> List[str]:
    """A seeded random sample of ``n`` texts (all of them, shuffled, if fewer)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    return [texts[i] for i in order[: max(n, 0)]]


__all__ = ["GoldSet", "check_labels", "load_gold", "sample_texts"]
