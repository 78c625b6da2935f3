"""What fitting a post-classifier component on a trained pipeline takes, shared by
``save_tuned_thresholds`` (``kd_label_thresholds``) and ``save_prior_correction``
(``kd_label_prior``): the pipeline loaded with that component disabled, so the fit
sees the classifier's own scores, and the folder replaced whole afterwards."""

import shutil
import tempfile
from pathlib import Path
from typing import List, Sequence, Tuple

from spacy.language import Language

from spacy_kd.classifier import TextClassifier, find_text_classifier, load_pipeline
from spacy_kd.distillation.cats_pipe import enabled_components


def load_for_fit(
    path: Path, factory: str
) -> Tuple[Language, TextClassifier, List[str]]:
    """The pipeline at ``path``, its text classifier, and the names of its enabled
    ``factory`` components, disabled (``write_back`` enables them again)."""
    nlp = load_pipeline(path)
    shipped = enabled_components(nlp, factory)
    for name in shipped:
        nlp.disable_pipe(name)
    return nlp, find_text_classifier(nlp, path), shipped


def write_back(nlp: Language, path: Path, *, enable: Sequence[str] = ()) -> None:
    """Enable the components ``enable`` and replace the pipeline folder ``path`` with
    ``nlp``, written beside it first."""
    for name in enable:
        nlp.enable_pipe(name)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        new = Path(tmp) / "pipeline"
        nlp.to_disk(new)
        old = Path(tmp) / "old"
        path.rename(old)
        new.rename(path)
        shutil.rmtree(old, ignore_errors=True)
