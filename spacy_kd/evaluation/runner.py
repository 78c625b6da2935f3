"""``evaluate``: accuracy, agreement, speed and memory of pipelines on one test set
(and their accuracy on extra test sets)."""

import gc
import platform
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, List, Mapping, Optional, Sequence, Union

import numpy as np
import spacy

from spacy_kd.classifier import (
    check_pipeline_dir,
    find_text_classifier,
    load_pipeline,
    predict,
)
from spacy_kd.distillation.thresholds import saved_thresholds, threshold_components
from spacy_kd.errors import DataError
from spacy_kd.evaluation.arguments import (
    check_counts,
    pipeline_names,
    resolve_names,
    resolve_reference,
)
from spacy_kd.evaluation.gold import GoldSet, check_labels, load_gold, sample_texts
from spacy_kd.evaluation.measure import (
    TORCH_STACK,
    SpeedMemory,
    disk_size_mib,
    measure_pipeline,
)
from spacy_kd.evaluation.metrics import (
    agreement,
    decisions,
    score_cats,
    tune_thresholds,
)
from spacy_kd.evaluation.report import EvaluationReport, PipelineResult

PathLike = Union[str, Path]
DataLike = Union[PathLike, GoldSet]


@dataclass
class _Predictions:
    labels: List[str]
    scores: np.ndarray
    decided: np.ndarray


def evaluate(
    pipelines: Sequence[PathLike],
    data: DataLike,
    *,
    names: Optional[Sequence[str]] = None,
    reference: Optional[PathLike] = None,
    tune_thresholds_on: Optional[PathLike] = None,
    threshold: float = 0.5,
    component: Optional[str] = None,
    sample: int = 0,
    seed: int = 0,
    batch_size: int = 128,
    measure_speed: bool = True,
    n_speed_docs: int = 500,
    n_threads: int = 1,
    n_warmup: int = 16,
    progress: Optional[Callable[[str], None]] = None,
    progress_bars: bool = False,
    extra_data: Optional[Mapping[str, DataLike]] = None,
    keep_scores: bool = False,
    torch_free: Collection[str] = (),
    tokenizer_only: bool = False,
) -> EvaluationReport:
    """Compare text-classification pipelines on one labelled test set.

    pipelines: pipeline directories; their names in the report are the directory
        names (with parent folders where they clash) unless ``names`` is given.
    data: the test set, a DocBin (.spacy) or JSONL/CSV file with gold labels (or
        a loaded ``GoldSet``, which ``sample`` leaves as it is).
    reference: a pipeline's name or directory; every pipeline's agreement with its
        predictions is reported (a directory not among ``pipelines`` is added).
    tune_thresholds_on: a labelled dev set; multi-label classifiers then use per-label
        thresholds that maximise each label's F1 on it, instead of ``threshold``.
    component: the text classifier's component name, when a pipeline has several.
    sample: score a seeded random sample of this many test docs (0: all).
    measure_speed: measure latency, throughput and peak memory, each pipeline in a
        fresh subprocess with ``n_threads`` threads, on ``n_speed_docs`` test texts.
    progress: called with a line of text at each step; progress_bars: show tqdm bars.
    extra_data: more test sets by name (paths or GoldSets, e.g. other domains);
        every pipeline's accuracy there too (same decisions; no speed).
    keep_scores: keep every pipeline's scores on each set in its result.
    torch_free: names of pipelines whose speed runs cannot import torch,
        transformers or spacy-transformers (``TORCH_STACK``), as in production.
    tokenizer_only: also measure ``spacy.blank(lang)`` (the pipelines' language)
        as the torch-free pipelines are: the tokenizer, the speed limit.
    """
    say = progress or (lambda line: None)
    paths = [Path(p) for p in pipelines]
    if not paths:
        raise ValueError("no pipeline given")
    names_list = resolve_names(paths, names)
    ref_index = resolve_reference(reference, paths, names_list, names is None)
    unknown = sorted(set(torch_free) - set(names_list))
    if unknown:
        raise ValueError(f"torch_free names no pipeline: {unknown}")
    for p in paths:
        check_pipeline_dir(p)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    check_counts(
        sample=sample,
        batch_size=batch_size,
        n_speed_docs=n_speed_docs if measure_speed else 1,
        n_threads=n_threads if measure_speed else 1,
        n_warmup=n_warmup,
    )
    gold = (
        data if isinstance(data, GoldSet) else load_gold(data, sample=sample, seed=seed)
    )
    extra = {
        key: value
        if isinstance(value, GoldSet)
        else load_gold(value, sample=sample, seed=seed)
        for key, value in (extra_data or {}).items()
    }
    dev = load_gold(tune_thresholds_on) if tune_thresholds_on is not None else None
    say(f"Test data: {gold.path} ({len(gold):,} docs, {len(gold.labels)} labels)")

    results: List[PipelineResult] = []
    preds: List[_Predictions] = []
    warnings: List[str] = []
    langs: Counter = Counter()
    for i, (name, path) in enumerate(zip(names_list, paths)):
        say(f"Scoring {name} ({i + 1}/{len(paths)}): {path}")
        nlp = load_pipeline(path)
        langs[nlp.lang] += 1
        # the classifier's own probabilities: shipped thresholds are applied here
        saved = saved_thresholds(nlp)
        for pipe_name in threshold_components(nlp):
            nlp.disable_pipe(pipe_name)
        clf = find_text_classifier(nlp, path, component)
        multi = gold.multi_label if clf.multi_label is None else clf.multi_label
        unseen = check_labels(gold, clf.labels, multi, pipeline=name)
        if unseen:
            warnings.append(
                f"{name}: {len(unseen)} of its labels never occur in the test data "
                f"(scored with zero support): {', '.join(unseen[:10])}"
                + (", ..." if len(unseen) > 10 else "")
            )
        thresholds: Optional[List[float]] = None
        source = "argmax"
        if multi:
            thresholds = [threshold] * len(clf.labels)
            source = f"threshold {threshold:g}"
            if dev is not None:
                check_labels(dev, clf.labels, multi, pipeline=name)
                dev_scores = predict(
                    nlp,
                    clf.labels,
                    dev.texts,
                    batch_size=batch_size,
                    n_docs=len(dev),
                    progress=progress_bars,
                    desc=f"{name} (dev)",
                )
                thresholds = tune_thresholds(
                    dev.cats, dev_scores, clf.labels, default=threshold
                )
                source = f"tuned on {dev.path}"
            elif saved:
                thresholds = [saved.get(label, threshold) for label in clf.labels]
                source = "saved in the pipeline"
        elif dev is not None:
            warnings.append(
                f"{name}: exclusive labels, so --tune-thresholds does not apply"
            )
        scores = predict(
            nlp,
            clf.labels,
            gold.texts,
            batch_size=batch_size,
            n_docs=len(gold),
            progress=progress_bars,
            desc=name,
        )
        extra_accuracy, extra_scores = {}, {}
        for key, other in extra.items():
            check_labels(other, clf.labels, multi, pipeline=name)
            extra_scores[key] = predict(
                nlp, clf.labels, other.texts, batch_size=batch_size,
                n_docs=len(other), progress=progress_bars, desc=f"{name} ({key})",
            )  # fmt: skip
            extra_accuracy[key] = score_cats(
                other.cats, extra_scores[key], clf.labels, multi_label=multi,
                thresholds=thresholds,
            )  # fmt: skip
        del nlp
        gc.collect()
        accuracy = score_cats(
            gold.cats, scores, clf.labels, multi_label=multi, thresholds=thresholds
        )
        accuracy_global = None
        if multi and thresholds != [threshold] * len(clf.labels):
            accuracy_global = score_cats(
                gold.cats, scores, clf.labels, multi_label=True,
                thresholds=[threshold] * len(clf.labels),
            )  # fmt: skip
        decided = decisions(
            scores, multi, None if thresholds is None else np.array(thresholds)
        )
        preds.append(_Predictions(labels=clf.labels, scores=scores, decided=decided))
        results.append(
            PipelineResult(
                name=name,
                path=str(path),
                component=clf.name,
                factory=clf.factory,
                multi_label=multi,
                labels=list(clf.labels),
                accuracy=accuracy,
                thresholds=None
                if thresholds is None
                else dict(zip(clf.labels, thresholds)),
                threshold_source=source,
                disk_mib=disk_size_mib(path),
                labels_not_in_data=unseen,
                is_reference=i == ref_index,
                extra_accuracy=extra_accuracy,
                accuracy_global=accuracy_global,
                scores=scores if keep_scores else None,
                extra_scores=extra_scores if keep_scores else {},
            )
        )
        say(
            f"{name}: micro F {100 * accuracy.micro_f:.2f}, macro F "
            f"{100 * accuracy.macro_f:.2f}, exact {100 * accuracy.exact_match:.2f}"
        )

    if ref_index is not None:
        _add_agreement(results, preds, ref_index)

    speed_texts: List[str] = []
    if measure_speed:
        speed_texts = sample_texts(gold.texts, n_speed_docs, seed=seed)
        for i, result in enumerate(results):
            say(
                f"Measuring speed and memory of {result.name} ({i + 1}/{len(results)}) "
                f"in a fresh process: {len(speed_texts)} docs, {n_threads} thread(s)"
            )
            result.speed = measure_pipeline(
                result.path,
                speed_texts,
                n_threads=n_threads,
                batch_size=batch_size,
                n_warmup=n_warmup,
                hide=TORCH_STACK if result.name in torch_free else (),
            )
            _say_speed(say, result.name, result.speed)
    tokenizer: Optional[SpeedMemory] = None
    lang = langs.most_common(1)[0][0]
    if measure_speed and tokenizer_only:
        say(f"Measuring the tokenizer alone (spacy.blank({lang!r})) in a fresh process")
        tokenizer = measure_blank(
            lang, speed_texts, n_threads=n_threads, batch_size=batch_size,
            n_warmup=n_warmup,
        )  # fmt: skip
        _say_speed(say, f"blank {lang}", tokenizer)
    return EvaluationReport(
        data={
            "path": gold.path,
            "n_docs": len(gold),
            "n_total": gold.n_total,
            "multi_label": gold.multi_label,
            "labels": gold.labels,
        },
        settings={
            "threshold": threshold,
            "tune_thresholds": None if dev is None else dev.path,
            "component": component,
            "sample": sample,
            "seed": seed,
            "batch_size": batch_size,
            "measure_speed": measure_speed,
            "n_speed_docs": len(speed_texts),
            "n_threads": n_threads,
            "n_warmup": min(n_warmup, len(speed_texts)),
            "python": platform.python_version(),
            "spacy": spacy.__version__,
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor() or None,
        },
        pipelines=results,
        reference=None if ref_index is None else results[ref_index].name,
        warnings=warnings,
        extra_data={key: _describe(other) for key, other in extra.items()},
        tokenizer_speed=tokenizer,
        tokenizer_lang=lang if tokenizer is not None else None,
    )


def _describe(gold: GoldSet) -> dict:
    return {
        "path": gold.path,
        "n_docs": len(gold),
        "n_total": gold.n_total,
        "multi_label": gold.multi_label,
        "labels": gold.labels,
        **gold.info,
    }


def _say_speed(say: Callable[[str], None], name: str, s: SpeedMemory) -> None:
    say(
        f"{name}: {1000 * s.latency_median_s:.3g} ms/doc, "
        f"{s.words_per_s:,.0f} words/s, peak RSS {s.peak_rss_infer_mib:.0f} MiB"
    )


def measure_blank(lang: str, texts: Sequence[str], **settings) -> SpeedMemory:
    """Speed and memory of ``spacy.blank(lang)``, measured where torch and its kin
    cannot be imported (``settings``: those of ``measure_pipeline``)."""
    with tempfile.TemporaryDirectory(prefix="spacy_kd_blank_") as tmp:
        spacy.blank(lang).to_disk(tmp)
        return measure_pipeline(tmp, texts, hide=TORCH_STACK, **settings)


def _add_agreement(
    results: List[PipelineResult], preds: List[_Predictions], ref_index: int
) -> None:
    ref, ref_result = preds[ref_index], results[ref_index]
    for i, (result, pred) in enumerate(zip(results, preds)):
        if i == ref_index:
            continue
        if set(pred.labels) != set(ref.labels):
            raise DataError(
                result.path,
                f"cannot compare {result.name} with the reference {ref_result.name}: "
                f"their labels differ ({len(pred.labels)} vs {len(ref.labels)} labels; "
                f"only in {result.name}: {sorted(set(pred.labels) - set(ref.labels))}, "
                f"only in {ref_result.name}: "
                f"{sorted(set(ref.labels) - set(pred.labels))})",
            )
        order = [pred.labels.index(label) for label in ref.labels]
        result.agreement = agreement(
            pred.decided[:, order],
            ref.decided,
            pred.scores[:, order],
            ref.scores,
            reference=ref_result.name,
        )


__all__ = ["GoldSet", "evaluate", "measure_blank", "pipeline_names"]
