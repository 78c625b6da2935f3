"""Accuracy against seconds per document, a labelled point per pipeline (matplotlib)."""

from pathlib import Path
from typing import Union

from spacy_kd.evaluation.report import ACCURACY_METRICS, EvaluationReport
from spacy_kd.util import atomic_path


def require_matplotlib() -> None:
    """Fail early, with an install hint, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("plotting needs matplotlib: pip install matplotlib") from None


def plot_report(
    report: EvaluationReport, path: Union[str, Path], *, metric: str = "micro_f"
) -> None:
    """Write a scatter plot of ``metric`` (in %) against median seconds per document.

    The x axis is logarithmic; each point is labelled with the pipeline's name and its
    peak memory. The image format follows the file extension (.png, .svg, .pdf).
    """
    if metric not in ACCURACY_METRICS:
        raise ValueError(
            f"unknown plot metric {metric!r}; choose from {', '.join(ACCURACY_METRICS)}"
        )
    measured = [p for p in report.pipelines if p.speed is not None]
    if not measured:
        raise ValueError("the plot needs speed measurements (measure_speed=True)")
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p.speed.latency_median_s for p in measured]  # type: ignore[union-attr]
    ys = [100 * getattr(p.accuracy, metric) for p in measured]
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=150)
    try:
        ax.scatter(xs, ys, s=60, color="tab:blue", zorder=3)
        for p, x, y in zip(measured, xs, ys):
            mem = p.speed.peak_rss_infer_mib  # type: ignore[union-attr]
            ax.annotate(
                f"{p.name}\n{y:.1f}%, {1000 * x:.3g} ms, {mem:.0f} MiB",
                (x, y),
                xytext=(8, 6),
                textcoords="offset points",
                fontsize=8,
            )
        ax.set_xscale("log")
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 3, hi * 6)
        y_lo, y_hi = min(ys), max(ys)
        pad = max(2.0, 0.15 * (y_hi - y_lo))
        ax.set_ylim(max(0.0, y_lo - pad), min(100.0, y_hi + pad))
        ax.set_xlabel("seconds per document (median latency, log scale)")
        ax.set_ylabel(f"{ACCURACY_METRICS[metric]} (%)")
        kind = "multi-label" if report.data["multi_label"] else "exclusive"
        ax.set_title(
            f"{ACCURACY_METRICS[metric]} vs. inference time "
            f"({Path(report.data['path']).name}, {report.data['n_docs']:,} docs, "
            f"{kind})",
            fontsize=10,
        )
        threads = report.settings.get("n_threads")
        ax.text(
            0.99,
            0.01,
            f"{threads} thread(s); labels: score, ms/doc, peak RSS",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="gray",
        )
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt)
    finally:
        plt.close(fig)
