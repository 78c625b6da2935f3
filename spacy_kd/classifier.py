"""Load a spaCy pipeline, find its text classifier and collect its scores."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import spacy
from spacy.language import Language
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from spacy.tokens import Doc

from spacy_kd.errors import DataError

PROBE_TEXT = "This is a short text to see which components set doc.cats."


@dataclass
class TextClassifier:
    """The component of a pipeline that sets ``doc.cats``.

    multi_label: True or False when the component says so, None when it cannot be
    told from the component (the data decides).
    """

    name: str
    factory: str
    labels: List[str]
    multi_label: Optional[bool]

    def to_dict(self):
        return dict(self.__dict__)


def check_pipeline_dir(path: Union[str, Path]) -> Path:
    """Fail early, before anything is loaded, if ``path`` cannot be a spaCy pipeline."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "pipeline not found")
    if not path.is_dir():
        raise DataError(
            path, "not a spaCy pipeline: expected a directory written by nlp.to_disk"
        )
    if not (path / "config.cfg").is_file():
        raise DataError(
            path,
            "not a spaCy pipeline: the directory has no config.cfg (use the folder "
            "that nlp.to_disk or spacy train wrote, e.g. training/model-best)",
        )
    return path


def load_pipeline(path: Union[str, Path]) -> Language:
    """``spacy.load`` a pipeline directory, turning any failure into a DataError."""
    path = check_pipeline_dir(path)
    try:
        spacy.util.load_config(path / "config.cfg")
    except Exception as e:  # confection and configparser raise many kinds
        raise DataError(
            path,
            "cannot load the spaCy pipeline: its config.cfg is not a readable spaCy "
            f"config: {_one_line(e)}",
        ) from None
    try:
        return spacy.load(path)
    except Exception as e:  # a broken pipeline can raise almost anything
        raise DataError(
            path, f"cannot load the spaCy pipeline: {_one_line(e)}"
        ) from None


def _one_line(error: Exception) -> str:
    """An exception's message on one line (config errors span many)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _labels_of(pipe: Any) -> Optional[List[str]]:
    labels = getattr(pipe, "labels", None)
    if (
        isinstance(labels, (list, tuple))
        and labels
        and all(isinstance(x, str) for x in labels)
    ):
        return list(labels)
    return None


def _multi_label_of(pipe: Any) -> Optional[bool]:
    if isinstance(pipe, MultiLabel_TextCategorizer):
        return True
    attr = getattr(pipe, "multi_label", None)
    if isinstance(attr, bool):
        return attr
    cfg = getattr(pipe, "cfg", None)
    if isinstance(cfg, dict) and isinstance(cfg.get("multi_label"), bool):
        return cfg["multi_label"]
    if isinstance(pipe, TextCategorizer):
        return False
    model = getattr(pipe, "model", None)
    attrs = getattr(model, "attrs", {}) or {}
    if isinstance(attrs.get("multi_label"), bool):
        return attrs["multi_label"]
    return None


def find_text_classifier(
    nlp: Language, path: Union[str, Path], component: Optional[str] = None
) -> TextClassifier:
    """The pipeline's text classifier: a TextCategorizer, or a pipe with ``labels``
    that sets ``doc.cats`` for every one of them.

    component: the name of the component to use, needed when there are several.
    """
    cands = [name for name, pipe in nlp.pipeline if isinstance(pipe, TextCategorizer)]
    if not cands or component is not None:
        # Pipes of other kinds count when they really set doc.cats for their labels.
        probe = nlp(PROBE_TEXT)
        cands += [
            name
            for name, pipe in nlp.pipeline
            if name not in cands
            and _labels_of(pipe)
            and set(_labels_of(pipe) or []) <= set(probe.cats)
        ]
    if component is not None:
        if component not in nlp.pipe_names:
            raise DataError(
                path,
                f"the pipeline has no component {component!r} (it has: "
                f"{', '.join(nlp.pipe_names) or 'none'})",
            )
        if component not in cands:
            raise DataError(
                path,
                f"component {component!r} is not a text classifier (sets no doc.cats)",
            )
        cands = [component]
    if not cands:
        raise DataError(
            path,
            "the pipeline has no text classifier (components: "
            f"{', '.join(nlp.pipe_names) or 'none'}): no textcat, textcat_multilabel "
            "or other component sets doc.cats",
        )
    if len(cands) > 1:
        raise DataError(
            path,
            f"the pipeline has several text classifiers ({', '.join(cands)}): "
            "choose one with --component",
        )
    name = cands[0]
    pipe = nlp.get_pipe(name)
    labels = _labels_of(pipe)
    if not labels:
        raise DataError(
            path, f"the text classifier {name!r} has no labels (not trained?)"
        )
    return TextClassifier(
        name=name,
        factory=nlp.get_pipe_meta(name).factory,
        labels=labels,
        multi_label=_multi_label_of(pipe),
    )


def pipe_scores(
    nlp: Language,
    labels: Sequence[str],
    texts: Iterable[Union[str, Doc]],
    *,
    batch_size: int = 128,
    n_process: int = 1,
) -> Iterator[Tuple[Doc, List[float]]]:
    """Run the pipeline over texts (or Docs); yield each doc and its scores.

    The scores are in ``labels`` order; a label missing from a predicted
    ``doc.cats`` scores 0 (as in spaCy's Scorer).
    """
    for doc in nlp.pipe(texts, batch_size=batch_size, n_process=n_process):
        yield doc, [doc.cats.get(label, 0.0) for label in labels]


def predict(
    nlp: Language,
    labels: Sequence[str],
    texts: Iterable[str],
    *,
    batch_size: int = 128,
    n_docs: Optional[int] = None,
    progress: bool = False,
    desc: str = "",
) -> np.ndarray:
    """Run the pipeline over ``texts``; the scores (see ``pipe_scores``) as a float32
    (n_docs, n_labels) matrix."""
    scored = pipe_scores(nlp, labels, texts, batch_size=batch_size)
    if progress:
        from tqdm import tqdm

        scored = tqdm(scored, total=n_docs, desc=desc, unit="doc", leave=False)
    rows = [row for _doc, row in scored]
    return np.asarray(rows, dtype="float32").reshape(len(rows), len(labels))
