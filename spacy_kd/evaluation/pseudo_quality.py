"""How right are the pseudo-labels? Score annotate's shards against the pool's removed labels."""

from pathlib import Path
from typing import Any, Dict, Union

import numpy

from spacy_kd.annotate.pseudo import hard_labels, pseudo_record
from spacy_kd.annotate.run import iter_shards
from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.errors import DataError


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
    """
    shards = iter_shards(annotated_dir)
    if not shards:
        raise DataError(
            annotated_dir, "no shard-*.spacy files: not an annotate output folder"
        )
    gold_docs = read_docbin(gold_path)
    with_ids = sum(ID_KEY in doc.user_data for doc in gold_docs)
    if 0 < with_ids < len(gold_docs):
        raise DataError(
            gold_path, f"{len(gold_docs) - with_ids} of {len(gold_docs)} docs carry no '{ID_KEY}': "
            "use the pool_gold.spacy of `data split`, or a file without any ids"
        )  # fmt: skip
    gold = {doc.user_data.get(ID_KEY, i): doc.cats for i, doc in enumerate(gold_docs)}
    per_label: Dict[str, numpy.ndarray] = {}
    hits: Dict[str, int] = {}
    tp: Dict[str, float] = {}
    fp: Dict[str, float] = {}
    fn: Dict[str, float] = {}
    n = 0
    missing = 0
    for shard in shards:
        for doc in read_docbin(shard):
            record = pseudo_record(doc)
            doc_id = doc.user_data.get(ID_KEY)
            if record is None or doc_id not in gold:
                missing += 1
                continue
            labels = list(record["labels"])
            multi = bool(record["multi_label"])
            truth = numpy.asarray([gold[doc_id].get(k, 0.0) for k in labels]) >= 0.5
            weights = dict(zip(record["teachers"], record["weights"]))
            outputs = {name: numpy.asarray(p) for name, p in record["probs"].items()}
            outputs["combined"] = sum(weights[k] * p for k, p in outputs.items())
            n += 1
            for name, p in outputs.items():
                pred = hard_labels(p, multi_label=multi, threshold=threshold) >= 0.5
                hits[name] = hits.get(name, 0) + int(numpy.array_equal(pred, truth))
                tp[name] = tp.get(name, 0) + float((pred & truth).sum())
                fp[name] = fp.get(name, 0) + float((pred & ~truth).sum())
                fn[name] = fn.get(name, 0) + float((~pred & truth).sum())
                counts = numpy.stack(
                    [pred & truth, pred & ~truth, ~pred & truth]
                ).astype(float)
                per_label[name] = per_label.get(name, 0) + counts
    if n == 0:
        raise DataError(
            gold_path,
            f"none of the annotated docs' ids are in this file ({missing} unmatched)",
        )
    result: Dict[str, Any] = {
        "n_docs": n, "n_unmatched": missing, "accuracy": {}, "micro_f1": {}, "macro_f1": {},
    }  # fmt: skip
    for name in hits:
        result["accuracy"][name] = hits[name] / n
        denom = 2 * tp[name] + fp[name] + fn[name]
        result["micro_f1"][name] = 2 * tp[name] / denom if denom else 0.0
        ltp, lfp, lfn = per_label[name]
        ldenom = 2 * ltp + lfp + lfn
        f = numpy.divide(2 * ltp, ldenom, out=numpy.zeros_like(ltp), where=ldenom > 0)
        result["macro_f1"][name] = float(f.mean())
    return result
