"""How right are the pseudo-labels? annotate's shards against the pool's true labels."""

from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

import numpy

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.pseudo import pseudo_record
from spacy_kd.data.augment import is_augmented, is_augmented_id
from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.errors import DataError
from spacy_kd.evaluation.metrics import compare_decisions, decisions


def score_pseudo_labels(
    annotated_dir: Union[str, Path],
    gold_path: Union[str, Path],
    *,
    threshold: float = 0.5,
) -> Dict[str, Any]:
    """Accuracy of the combined pseudo-labels (and of each teacher's) against gold.

    Docs are matched by ``doc.user_data["spacy_kd_id"]`` (set by ``data split`` and
    kept by ``annotate``); if the gold file's docs carry no ids at all, by position,
    which is what ``annotate`` numbers such docs by (so annotating a labelled test
    file and scoring against that same file scores the teachers on it). Exclusive:
    argmax accuracy. Multi-label: exact-match accuracy of the label sets at
    ``threshold``. Both: micro-F1 and macro-F1 (the mean of per-label F, as spaCy's
    scorer computes ``cats_macro_f``).

    Augmented copies (``augment``: ids ``"17#aug2"``) have no true labels: the
    annotated ones are skipped and counted (``n_augmented_skipped``), and a gold
    file's copies are left out (the originals keep their positions). Any other
    annotated doc whose id is not in the gold file counts as ``n_unmatched``.
    """
    if not 0.0 <= threshold <= 1.0:
        raise DataError(None, f"--threshold must be in [0, 1], got {threshold}")
    shards = iter_shards(annotated_dir)
    if not shards:
        raise DataError(
            annotated_dir, "no shard-*.spacy files: not an annotate output folder"
        )
    gold_docs = [
        (i, doc)
        for i, doc in enumerate(read_docbin(gold_path))
        if not is_augmented(doc)
    ]
    with_ids = sum(ID_KEY in doc.user_data for _, doc in gold_docs)
    if 0 < with_ids < len(gold_docs):
        raise DataError(
            gold_path,
            f"{len(gold_docs) - with_ids} of {len(gold_docs)} docs carry no "
            f"'{ID_KEY}': use the pool_gold.spacy of `data split`, or a file without "
            "any ids",
        )
    gold_labels = _gold_label_set(gold_path, gold_docs)
    gold = {doc.user_data.get(ID_KEY, i): doc.cats for i, doc in gold_docs}
    outputs: Dict[str, List[numpy.ndarray]] = {}
    truth: List[numpy.ndarray] = []
    multi = False
    missing = augmented = 0
    for shard in shards:
        for doc in read_docbin(shard):
            record = pseudo_record(doc)
            doc_id = doc.user_data.get(ID_KEY)
            if is_augmented_id(doc_id):
                augmented += 1
                continue
            if record is None or doc_id not in gold:
                missing += 1
                continue
            labels = list(record["labels"])
            if not truth:  # one run: the same labels for every doc
                _check_same_labels(gold_path, gold_labels, labels, shard)
            multi = bool(record["multi_label"])  # one run: the same for every doc
            truth.append(
                numpy.asarray([gold[doc_id].get(k, 0.0) for k in labels]) >= 0.5
            )
            weights = dict(zip(record["teachers"], record["weights"]))
            probs = {name: numpy.asarray(p) for name, p in record["probs"].items()}
            probs["combined"] = sum(weights[k] * p for k, p in probs.items())
            for name, p in probs.items():
                outputs.setdefault(name, []).append(p)
    n = len(truth)
    if n == 0:
        raise DataError(
            gold_path,
            f"none of the annotated docs' ids are in this file ({missing} unmatched, "
            f"{augmented} augmented copies skipped)",
        )
    result: Dict[str, Any] = {
        "n_docs": n, "n_unmatched": missing, "n_augmented_skipped": augmented,
        "accuracy": {}, "micro_f1": {}, "macro_f1": {},
    }  # fmt: skip
    thresholds = numpy.full(len(truth[0]), threshold)
    for name, rows in outputs.items():
        pred = decisions(numpy.stack(rows), multi, thresholds)
        exact, micro_f, macro_f = compare_decisions(pred, numpy.stack(truth))
        result["accuracy"][name] = exact
        result["micro_f1"][name] = micro_f
        result["macro_f1"][name] = macro_f
    return result


def _gold_label_set(path: Union[str, Path], docs: List[Tuple[int, Any]]) -> List[str]:
    """The labels of the gold docs (with their positions in the file); a doc
    without labels is an error."""
    if not docs:
        raise DataError(
            path, "no documents (augmented copies aside): the gold file is empty"
        )
    labels: Dict[str, None] = {}
    for i, doc in docs:
        if not doc.cats:
            raise DataError(
                path,
                f"doc {i} has no labels: score the pseudo-labels against the same "
                "docs with their true labels (pool_gold.spacy of `data split`, not "
                "pool.spacy)",
            )
        labels.update(dict.fromkeys(doc.cats))
    return list(labels)


def _check_same_labels(
    path: Union[str, Path], gold: List[str], pseudo: List[str], shard: Path
) -> None:
    """The gold docs and the pseudo-labels must use the same label set."""
    if set(gold) == set(pseudo):
        return
    only_gold = sorted(set(gold) - set(pseudo))
    only_pseudo = sorted(set(pseudo) - set(gold))
    raise DataError(
        path,
        f"its labels differ from the pseudo-labels' in {shard}: the gold docs have "
        f"{len(gold)} labels, the teachers {len(pseudo)}; only in the gold docs: "
        f"{_preview(only_gold)}; only in the pseudo-labels: {_preview(only_pseudo)}",
    )


def _preview(labels: List[str], n: int = 10) -> str:
    return "[" + ", ".join(labels[:n]) + (", ...]" if len(labels) > n else "]")
