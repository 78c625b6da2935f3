"""The evaluation report: a result per pipeline, as JSON, terminal tables, markdown.

Besides the main test set, a report may hold accuracy on extra (e.g. cross-domain)
test sets, rows without a pipeline of their own (an ensemble of teachers: accuracy
only) and the speed of a tokenizer-only pipeline, the limit no pipeline can pass.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Sequence

from wasabi import MarkdownRenderer, table

from spacy_kd.evaluation.measure import SpeedMemory
from spacy_kd.evaluation.metrics import AccuracyScores, Agreement

# Metrics that can be plotted or tabulated, with their display names.
ACCURACY_METRICS = {
    "micro_f": "Micro F",
    "micro_p": "Micro P",
    "micro_r": "Micro R",
    "macro_f": "Macro F",
    "macro_p": "Macro P",
    "macro_r": "Macro R",
    "exact_match": "Exact",
}


@dataclass
class PipelineResult:
    """Everything measured for one pipeline.

    thresholds: the multi-label cut-off of each label (None for exclusive labels,
    where the highest score wins); threshold_source says where they came from.
    role: what the pipeline is to the caller ("stock", "teacher", "ensemble", ...).
    note: said of it in the markdown instead of its folder and component.
    extra_accuracy: its accuracy on each extra test set, by the set's name.
    accuracy_global: for multi-label thresholds tuned on dev (or saved in the
        pipeline), its accuracy with the one global threshold instead.
    scores, extra_scores: its (n_docs, n_labels) scores on the test set and on each
        extra set, in ``labels`` order, when asked for (never written out).
    """

    name: str
    path: str
    component: str
    factory: str
    multi_label: bool
    labels: List[str]
    accuracy: AccuracyScores
    thresholds: Optional[Dict[str, float]] = None
    threshold_source: str = "argmax"  # or "threshold 0.5", "tuned on DEV"
    agreement: Optional[Agreement] = None
    speed: Optional[SpeedMemory] = None
    disk_mib: Optional[float] = 0.0
    labels_not_in_data: List[str] = field(default_factory=list)
    is_reference: bool = False
    role: Optional[str] = None
    note: Optional[str] = None
    extra_accuracy: Dict[str, AccuracyScores] = field(default_factory=dict)
    accuracy_global: Optional[AccuracyScores] = None
    scores: Any = field(default=None, repr=False, compare=False)
    extra_scores: Dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "path": self.path,
            "component": self.component,
            "factory": self.factory,
            "multi_label": self.multi_label,
            "labels": list(self.labels),
            "is_reference": self.is_reference,
            "thresholds": self.thresholds,
            "threshold_source": self.threshold_source,
            "accuracy": self.accuracy.to_dict(),
            "accuracy_global_threshold": None
            if self.accuracy_global is None
            else self.accuracy_global.to_dict(),
            "agreement": None if self.agreement is None else self.agreement.to_dict(),
            "speed": None if self.speed is None else self.speed.to_dict(),
            "disk_mib": self.disk_mib,
            "labels_not_in_data": list(self.labels_not_in_data),
            "note": self.note,
            "extra_tests": {k: v.to_dict() for k, v in self.extra_accuracy.items()},
        }


@dataclass
class EvaluationReport:
    """The comparison of several pipelines on one test set (and on extra sets).

    extra_data: each extra test set's description (path, docs, labels ...), by name.
    tokenizer_speed: the speed and memory of ``spacy.blank(tokenizer_lang)``,
        measured as the pipelines are.
    """

    data: Dict[str, Any]
    settings: Dict[str, Any]
    pipelines: List[PipelineResult]
    reference: Optional[str] = None
    warnings: List[str] = field(default_factory=list)
    extra_data: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    tokenizer_speed: Optional[SpeedMemory] = None
    tokenizer_lang: Optional[str] = None

    def __getitem__(self, name: str) -> PipelineResult:
        for result in self.pipelines:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "data": dict(self.data),
            "settings": dict(self.settings),
            "reference": self.reference,
            "warnings": list(self.warnings),
            "pipelines": [p.to_dict() for p in self.pipelines],
            "extra_data": {k: dict(v) for k, v in self.extra_data.items()},
            "tokenizer_only": None
            if self.tokenizer_speed is None
            else {
                "name": self.tokenizer_name,
                "lang": self.tokenizer_lang,
                "speed": self.tokenizer_speed.to_dict(),
            },
        }

    @property
    def tokenizer_name(self) -> str:
        return f"tokenizer only (blank {self.tokenizer_lang})"

    # ----- tables -------------------------------------------------------------

    def accuracy_rows(self) -> tuple:
        header = ["Pipeline", *ACCURACY_METRICS.values()]
        if self.reference is not None:
            header.append(f"Agree ({self.reference})")
        rows = []
        for p in self.pipelines:
            acc = p.accuracy.to_dict()
            row = [p.name, *(_pct(acc[k]) for k in ACCURACY_METRICS)]
            if self.reference is not None:
                row.append("ref" if p.is_reference else _pct(_agree(p)))
            rows.append(row)
        return header, rows

    def extra_rows(self, name: str) -> tuple:
        """Accuracy on the extra test set ``name`` (pipelines not scored there: -)."""
        header = ["Pipeline", *ACCURACY_METRICS.values()]
        rows = []
        for p in self.pipelines:
            scores = p.extra_accuracy.get(name)
            acc = {} if scores is None else scores.to_dict()
            rows.append([p.name, *(_pct(acc.get(k, NAN)) for k in ACCURACY_METRICS)])
        return header, rows

    def speed_rows(self) -> tuple:
        header = [
            "Pipeline",
            "ms/doc",
            "p95 ms",
            "docs/s",
            *(["% tokenizer"] if self.tokenizer_speed is not None else []),
            "words/s",
            "RSS load MiB",
            "RSS peak MiB",
            "Disk MiB",
        ]
        rows = [self._speed_row(p.name, p.speed, p.disk_mib) for p in self.pipelines]
        if self.tokenizer_speed is not None:
            rows.append(
                self._speed_row(self.tokenizer_name, self.tokenizer_speed, None)
            )
        return header, rows

    def _speed_row(
        self, name: str, s: Optional[SpeedMemory], disk_mib: Optional[float]
    ) -> List[str]:
        disk = "-" if disk_mib is None else f"{disk_mib:.1f}"
        limit = self.tokenizer_speed
        share = [] if limit is None else ["-"]
        if s is None:
            return [name, "-", "-", "-", *share, "-", "-", "-", disk]
        if limit is not None:
            share = [_pct(s.docs_per_s / limit.docs_per_s)]
        return [
            name,
            _ms(s.latency_median_s),
            _ms(s.latency_p95_s),
            f"{s.docs_per_s:,.0f}",
            *share,
            f"{s.words_per_s:,.0f}",
            f"{s.peak_rss_load_mib:.0f}",
            f"{s.peak_rss_infer_mib:.0f}",
            disk,
        ]

    def per_label_rows(self) -> tuple:
        """Per-label F of every pipeline side by side (labels of the first pipeline)."""
        header = ["Label", "Support", *(f"F {p.name}" for p in self.pipelines)]
        rows = []
        first = self.pipelines[0]
        for label in first.labels:
            support = first.accuracy.per_label[label].support
            row: List[str] = [label, str(support)]
            for p in self.pipelines:
                score = p.accuracy.per_label.get(label)
                row.append("-" if score is None else _pct(score.f))
            rows.append(row)
        return header, rows

    def to_text(self, per_label: bool = False) -> str:
        """The terminal tables."""
        parts = [self._title(), ""]
        header, rows = self.accuracy_rows()
        parts.append(table(rows, header=header, divider=True, aligns=_aligns(header)))
        header, rows = self.speed_rows()
        parts.append(table(rows, header=header, divider=True, aligns=_aligns(header)))
        for name, info in self.extra_data.items():
            parts.append(f"{name}: {info['path']}, {info.get('n_docs', 0):,} docs")
            header, rows = self.extra_rows(name)
            parts.append(
                table(rows, header=header, divider=True, aligns=_aligns(header))
            )
        if per_label:
            header, rows = self.per_label_rows()
            parts.append(
                table(rows, header=header, divider=True, aligns=_aligns(header))
            )
        for warning in self.warnings:
            parts.append(f"⚠ {warning}")
        return "\n".join(parts).rstrip() + "\n"

    def _data_line(self) -> str:
        kind = "multi-label" if self.data["multi_label"] else "exclusive"
        sampled = self.data["n_docs"] < self.data["n_total"]
        of = f" (a seeded sample of {self.data['n_total']:,})" if sampled else ""
        return (
            f"{self.data['n_docs']:,} docs{of}, "
            f"{len(self.data['labels'])} labels ({kind})"
        )

    def _title(self) -> str:
        return f"{self.data['path']}: {self._data_line()}; scores in %"

    def to_markdown(self) -> str:
        """A markdown report: the comparison table, settings and per-label scores."""
        s = self.settings
        lines = [
            "# Pipeline comparison",
            "",
            f"Test data: `{self.data['path']}`, {self._data_line()}.",
            "",
        ]
        header, rows = self._combined_rows()
        lines += md_table(header, rows)
        lines += [
            "",
            "- Scores in %. Micro and macro P, R and F are counted as in spaCy's "
            "`Scorer.score_cats`; *Exact* is the share of documents with every label "
            "right.",
        ]
        if self.reference is not None:
            lines.append(
                f"- *Agree* is the share of documents where the pipeline's predicted "
                f"labels equal those of the reference `{self.reference}`."
            )
        if s.get("measure_speed"):
            lines.append(
                f"- Speed and memory: each pipeline in its own fresh process with "
                f"{s['n_threads']} thread(s), {s['n_speed_docs']} docs after "
                f"{s['n_warmup']} warm-up docs. *ms/doc* and *p95 ms* are the median "
                f"and 95th percentile latency of `nlp(text)`, one document at a time; "
                f"*docs/s* and *words/s* the throughput of `nlp.pipe` with batch size "
                f"{s['batch_size']}. *RSS* is the peak resident memory of that process "
                "(Python, spaCy and what spaCy imports for installed plugins included) "
                "after loading and after inference; "
                "*Disk* the size of the pipeline folder."
            )
        lines += self._isolation_notes()
        lines += self._extra_markdown()
        lines += ["", "## Pipelines", ""]
        for p in self.pipelines:
            thr = p.threshold_source
            if p.note is not None:
                lines.append(f"- **{p.name}**: {p.note}")
                continue
            lines.append(
                f"- **{p.name}**: `{p.path}`, component `{p.component}` "
                f"(factory `{p.factory}`, "
                f"{'multi-label' if p.multi_label else 'exclusive'}, "
                f"{len(p.labels)} labels, decision: {thr})"
            )
        lines += self._global_threshold_markdown()
        tuned = [p for p in self.pipelines if p.thresholds and p.multi_label]
        tuned = [p for p in tuned if p.accuracy_global is not None]
        if tuned:
            lines += ["", "## Tuned thresholds", ""]
            header = ["Label", *(p.name for p in tuned)]
            rows = [
                [
                    label,
                    *(
                        f"{(p.thresholds or {}).get(label, float('nan')):.3f}"
                        for p in tuned
                    ),
                ]
                for label in tuned[0].labels
            ]
            lines += md_table(header, rows)
        lines += ["", "## Per-label F", ""]
        header, rows = self.per_label_rows()
        lines += md_table(header, rows)
        for p in self.pipelines:
            lines += [
                "",
                f"<details><summary>{p.name}: per-label P, R, F</summary>",
                "",
            ]
            rows = [
                [label, _pct(sc.p), _pct(sc.r), _pct(sc.f), str(sc.support)]
                for label, sc in p.accuracy.per_label.items()
            ]
            lines += md_table(["Label", "P", "R", "F", "Support"], rows)
            lines += ["", "</details>"]
        if self.warnings:
            lines += ["", "## Warnings", ""] + [f"- {w}" for w in self.warnings]
        lines += [
            "",
            "## Settings",
            "",
            "```json",
            _json(self.settings),
            "```",
            "",
        ]
        return "\n".join(lines)

    def _combined_rows(self) -> tuple:
        acc_header, acc_rows = self.accuracy_rows()
        speed_header, speed_rows = self.speed_rows()
        header = acc_header + speed_header[1:]
        rows = [a + s[1:] for a, s in zip(acc_rows, speed_rows)]
        for s in speed_rows[len(acc_rows) :]:  # the tokenizer: speed only
            rows.append([s[0], *(["-"] * (len(acc_header) - 1)), *s[1:]])
        return header, rows

    def _global_threshold_markdown(self) -> List[str]:
        """Multi-label: each pipeline with its per-label thresholds against one
        global threshold."""
        rows = [p for p in self.pipelines if p.accuracy_global is not None]
        if not rows:
            return []
        cut = self.settings.get("threshold", 0.5)
        lines = [
            "",
            "## Per-label thresholds against one global threshold",
            "",
            f"Macro and micro F (%) with each label's threshold (where it came from in "
            f"the last column) and with the one global threshold {cut:g}, as spaCy's "
            "`textcat_multilabel` decides.",
            "",
        ]
        header = ["Pipeline", f"Macro F @{cut:g}", "Macro F per label",
                  f"Micro F @{cut:g}", "Micro F per label", "Thresholds"]  # fmt: skip
        table = [
            [
                p.name,
                f"{100 * p.accuracy_global.macro_f:.2f}",
                f"{100 * p.accuracy.macro_f:.2f}",
                f"{100 * p.accuracy_global.micro_f:.2f}",
                f"{100 * p.accuracy.micro_f:.2f}",
                p.threshold_source,
            ]
            for p in rows
            if p.accuracy_global is not None
        ]
        return lines + md_table(header, table)

    def _isolation_notes(self) -> List[str]:
        """Which speed runs could not import torch (and whether any did anyway)."""
        runs = [(p.name, p.speed) for p in self.pipelines]
        runs.append((self.tokenizer_name, self.tokenizer_speed))
        hidden = [(n, s) for n, s in runs if s is not None and s.extra.get("hidden")]
        if not hidden:
            return []
        modules = ", ".join(hidden[0][1].extra["hidden"])
        leaked = [n for n, s in hidden if s.extra.get("torch_stack_imported")]
        names = ", ".join(n for n, _ in hidden)
        line = (
            f"- Measured in a process where {modules} cannot be imported (as on a "
            f"machine with only spaCy and spacy_kd): {names}; "
        )
        line += (
            f"**these imported some anyway: {', '.join(leaked)}**."
            if leaked
            else "none of those modules was imported."
        )
        if self.tokenizer_speed is not None:
            line += (
                f" *{self.tokenizer_name}* is `spacy.blank("
                f'"{self.tokenizer_lang}")`: the tokenizer alone, the most docs/s any '
                "pipeline can reach; *% tokenizer* is each pipeline's docs/s as a "
                "share of its."
            )
        return [line]

    def _extra_markdown(self) -> List[str]:
        """One accuracy table per extra test set."""
        lines: List[str] = []
        for name, info in self.extra_data.items():
            kind = "multi-label" if info.get("multi_label") else "exclusive"
            lines += [
                "",
                f"## Test set {name}",
                "",
                f"`{info['path']}`: {info['n_docs']:,} docs, "
                f"{len(info.get('labels', []))} labels ({kind}); scores in %.",
            ]
            if info.get("label_map"):
                lines.append(
                    f"Labels mapped to the models' labels by `{info['label_map']}`; "
                    f"{info.get('n_dropped', 0):,} docs whose labels map to nothing "
                    "were dropped."
                )
            header, rows = self.extra_rows(name)
            lines += ["", *md_table(header, rows)]
        return lines


def _agree(p: PipelineResult) -> float:
    return float("nan") if p.agreement is None else p.agreement.exact


NAN = float("nan")


def _pct(value: float) -> str:
    return "-" if value != value else f"{100 * value:.2f}"


def _ms(seconds: float) -> str:
    ms = 1000 * seconds
    return f"{ms:.3g}" if ms < 100 else f"{ms:,.0f}"


Align = Literal["l", "r", "c"]


def _aligns(header: Sequence[str]) -> List[Align]:
    left: List[Align] = ["l"]
    right: List[Align] = ["r"]
    return left + right * (len(header) - 1)


def md_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    aligns: Optional[Sequence[Align]] = None,
) -> List[str]:
    """A markdown table (wasabi's), with ``|`` in cells escaped.

    aligns: "l", "r" or "c" per column (default: the first left, the others right).
    """

    def esc(cells: Sequence[str]) -> List[str]:
        return [str(cell).replace("|", "\\|") for cell in cells]

    text = MarkdownRenderer().table(
        [esc(row) for row in rows], esc(header), aligns=aligns or _aligns(header)
    )
    return text.splitlines()


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2)
