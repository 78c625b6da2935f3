"""Tune a multi-label pipeline's per-label thresholds on dev and ship them in it
(as its ``kd_label_thresholds`` component, see ``spacy_kd.distillation.thresholds``).
"""

from pathlib import Path
from typing import Dict, Optional, Union

from spacy_kd.classifier import predict
from spacy_kd.distillation.thresholds import FACTORY, set_pipeline_thresholds
from spacy_kd.evaluation.gold import GoldSet, check_labels, load_gold
from spacy_kd.evaluation.metrics import tune_thresholds
from spacy_kd.evaluation.postfit import load_for_fit, write_back

PathLike = Union[str, Path]


def save_tuned_thresholds(
    pipeline: PathLike,
    dev: Union[PathLike, GoldSet],
    *,
    default: float = 0.5,
    batch_size: int = 128,
) -> Optional[Dict[str, float]]:
    """Tune the per-label thresholds of the multi-label classifier in ``pipeline``
    on ``dev`` (each label's best F1; ``default`` for a label with no positives on
    dev), and write the pipeline back with them in its ``kd_label_thresholds``
    component (added after the classifier, or updated). Returns the thresholds;
    None, and nothing written, for an exclusive classifier.

    The folder is replaced whole: the new pipeline is written beside it first.
    """
    path = Path(pipeline)
    nlp, clf, shipped = load_for_fit(path, FACTORY)  # the classifier's own scores
    if not clf.multi_label:
        return None
    gold = dev if isinstance(dev, GoldSet) else load_gold(dev)
    check_labels(gold, clf.labels, True, pipeline=str(path))
    scores = predict(nlp, clf.labels, gold.texts, batch_size=batch_size)
    values = tune_thresholds(gold.cats, scores, clf.labels, default=default)
    thresholds = dict(zip(clf.labels, values))
    set_pipeline_thresholds(nlp, thresholds, after=clf.name)
    write_back(nlp, path, enable=shipped)
    return thresholds
