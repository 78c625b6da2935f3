"""Fit an exclusive pipeline's label-prior correction on unlabelled text and ship it
in the pipeline (as its ``kd_label_prior`` component, see
``spacy_kd.distillation.prior``)."""

from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy

from spacy_kd.classifier import predict
from spacy_kd.data.docbin import read_docbin
from spacy_kd.distillation.prior import (
    FACTORY,
    apply_prior_weights,
    fit_prior_weights,
    set_pipeline_prior,
)
from spacy_kd.errors import DataError
from spacy_kd.evaluation.gold import GoldSet, check_labels, load_gold
from spacy_kd.evaluation.metrics import score_cats
from spacy_kd.evaluation.postfit import load_for_fit, write_back

PathLike = Union[str, Path]


def gold_prior(gold: GoldSet, labels: list) -> numpy.ndarray:
    """Each label's share of the gold docs (exclusive labels: one per doc)."""
    counts = numpy.array(
        [sum(float(c.get(label, 0.0)) for c in gold.cats) for label in labels]
    )
    return counts / counts.sum()


def save_prior_correction(
    pipeline: PathLike,
    unlabelled: PathLike,
    gold: Union[PathLike, GoldSet],
    *,
    dev: Optional[Union[PathLike, GoldSet]] = None,
    batch_size: int = 128,
) -> Optional[Dict[str, float]]:
    """Fit the label-prior weights of the exclusive classifier in ``pipeline`` on the
    texts of ``unlabelled`` (a ``.spacy`` file; its labels, if any, are not read) so
    that its mean corrected prediction there matches the label shares of ``gold``,
    and write the pipeline back with them in its ``kd_label_prior`` component (added
    after the classifier, or updated). Returns the weights; None, and nothing
    written, for a multi-label classifier (those ship thresholds instead).

    dev: labelled docs to score the pipeline on with and without the correction:
    meta.json's dev score (``performance.cats_macro_f``, what the workflow picks
    students by) becomes the corrected pipeline's, and both are kept in
    ``meta["spacy_kd_label_prior"]``.

    The folder is replaced whole: the new pipeline is written beside it first.
    """
    path = Path(pipeline)
    nlp, clf, shipped = load_for_fit(path, FACTORY)  # the classifier's own probs
    if clf.multi_label:
        return None
    gold_set = gold if isinstance(gold, GoldSet) else load_gold(gold)
    check_labels(gold_set, clf.labels, False, pipeline=str(path))
    texts = [doc.text for doc in read_docbin(unlabelled)]
    if not texts:
        raise DataError(unlabelled, "no docs to fit the label prior on")
    target = gold_prior(gold_set, list(clf.labels))
    scores = predict(nlp, clf.labels, texts, batch_size=batch_size)
    weights = fit_prior_weights(scores, target)
    scored: Optional[Dict[str, Any]] = None
    if dev is not None:  # the classifier's own probabilities, with and without
        dev_set = dev if isinstance(dev, GoldSet) else load_gold(dev)
        check_labels(dev_set, clf.labels, False, pipeline=str(path))
        raw = predict(nlp, clf.labels, dev_set.texts, batch_size=batch_size)
        labels = list(clf.labels)
        before = score_cats(dev_set.cats, raw, labels, multi_label=False).macro_f
        after = score_cats(
            dev_set.cats, apply_prior_weights(raw, weights), labels, multi_label=False
        ).macro_f
        scored = {
            "dev": dev_set.path,
            "dev_macro_f_before": before,
            "dev_macro_f_after": after,
            "unlabelled": str(unlabelled),
        }
    fitted = {label: float(w) for label, w in zip(clf.labels, weights)}
    set_pipeline_prior(
        nlp, fitted, after=clf.name,
        target={label: float(t) for label, t in zip(clf.labels, target)},
    )  # fmt: skip
    if scored is not None:
        nlp.meta.setdefault("performance", {})["cats_macro_f"] = scored[
            "dev_macro_f_after"
        ]
        nlp.meta["spacy_kd_label_prior"] = scored
    write_back(nlp, path, enable=shipped)
    return fitted
