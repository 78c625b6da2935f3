"""``python -m spacy_kd label-prior``: fit and ship an exclusive pipeline's
label-prior correction (thin wrapper)."""

from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import user_errors
from spacy_kd.evaluation.prior import save_prior_correction


@app.command("label-prior")
def label_prior_cli(
    pipelines: List[Path] = typer.Argument(
        ..., help="Trained pipelines (model-best folders)"
    ),
    unlabelled: Path = typer.Option(
        ..., "--unlabelled", help="Unlabelled .spacy docs to fit on (the pool)"
    ),
    gold: Path = typer.Option(
        ..., "--gold", help="Labelled .spacy docs whose label shares are the target"
    ),
    dev: Optional[Path] = typer.Option(
        None,
        "--dev",
        help="Labelled dev docs: rescore each pipeline there, with and without the "
        "correction (meta.json's dev score becomes the corrected one's)",
    ),
) -> None:
    """Fit each exclusive pipeline's label-prior weights on the unlabelled docs, so
    that its mean prediction there matches the gold docs' label shares, and write
    them into the pipeline (a kd_label_prior component after the classifier), so
    spacy.load applies them. A student inherits its teacher's bias in how often each
    label is given; this moves it back. Multi-label pipelines are left as they are
    (they ship per-label thresholds instead)."""
    with user_errors(ValueError):
        for path in pipelines:
            weights = save_prior_correction(path, unlabelled, gold, dev=dev)
            if weights is None:
                msg.info(f"{path}: multi-label, left as it is")
                continue
            low = min(weights, key=weights.__getitem__)
            high = max(weights, key=weights.__getitem__)
            msg.good(
                f"{path}: {len(weights)} label weights fitted on {unlabelled} "
                f"({low} {weights[low]:.2f} ... {high} {weights[high]:.2f})"
            )
