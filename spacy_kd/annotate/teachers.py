"""Teachers: loaded classifier pipelines, checked against each other, run over texts."""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy
from spacy.language import Language
from spacy.tokens import Doc

from spacy_kd.classifier import (
    check_pipeline_dir,
    find_text_classifier,
    load_pipeline,
    pipe_scores,
)
from spacy_kd.errors import DataError


@dataclass
class Teacher:
    """A loaded teacher pipeline and the text classifier inside it."""

    name: str
    path: str
    nlp: Language
    component: str
    labels: List[str]
    multi_label: bool


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
    paths = [check_pipeline_dir(path) for path in paths]
    teachers: List[Teacher] = []
    for path in paths:
        nlp = load_pipeline(path)
        clf = find_text_classifier(nlp, path)
        if clf.multi_label is None:
            raise DataError(
                path,
                f"cannot tell whether the text classifier {clf.name!r} is exclusive "
                "or multi-label",
            )
        name = teacher_name(path)
        if any(t.name == name for t in teachers):
            name = f"{name}-{len(teachers)}"
        teachers.append(
            Teacher(name, str(path), nlp, clf.name, clf.labels, clf.multi_label)
        )
    first = teachers[0]
    for other in teachers[1:]:
        if set(other.labels) != set(first.labels):
            raise DataError(
                other.path,
                f"its labels differ from those of {first.path}: only in {other.name}: "
                f"{sorted(set(other.labels) - set(first.labels))}; only in "
                f"{first.name}: {sorted(set(first.labels) - set(other.labels))}",
            )
        if other.multi_label != first.multi_label:
            raise DataError(
                other.path,
                f"multi_label={other.multi_label} but {first.path} has "
                f"multi_label={first.multi_label}",
            )
    return teachers


def run_teacher(
    teacher: Teacher,
    texts: Sequence[Union[str, Doc]],
    labels: List[str],
    batch_size: int,
    n_process: int,
    order: Optional[Sequence[int]] = None,
) -> Tuple[numpy.ndarray, List[Doc]]:
    """Run a teacher on texts or Docs: its probabilities in ``labels`` order (a
    float64 (n_docs, n_labels) array), and its docs, both in the input's order.

    order: the order to feed them in (e.g. ``length_order``: a batch of docs of
    like length pads little); the results are put back in the input's order.
    """
    if order is not None:
        if sorted(order) != list(range(len(texts))):
            raise ValueError("order must be a permutation of the texts' positions")
        texts = [texts[i] for i in order]
    scored = list(
        pipe_scores(
            teacher.nlp, labels, texts, batch_size=batch_size, n_process=n_process
        )
    )
    probs = numpy.asarray([row for _doc, row in scored], dtype="float64")
    probs = probs.reshape(len(scored), len(labels))
    docs = [doc for doc, _row in scored]
    if order is not None:
        back = numpy.empty(len(order), dtype="int64")
        back[numpy.asarray(order, dtype="int64")] = numpy.arange(len(order))
        probs = probs[back]
        docs = [docs[i] for i in back]
    return probs, docs


def length_order(texts: Sequence[Union[str, Doc]]) -> List[int]:
    """The positions of ``texts`` shortest first (characters; ties keep their
    order)."""
    return sorted(range(len(texts)), key=lambda i: len(_text(texts[i])))


def _text(item: Union[str, Doc]) -> str:
    return item.text if isinstance(item, Doc) else item
