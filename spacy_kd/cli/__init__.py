"""The ``python -m spacy_kd`` command line: one module per command group."""

import typer

app = typer.Typer(
    name="spacy_kd",
    help="Distil big contextual text classifiers into compact spaCy students.",
    no_args_is_help=True,
    add_completion=False,
)

# each module registers its commands on `app`
from spacy_kd.cli import (  # noqa: E402,F401
    annotate,
    augment,
    configs,
    data,
    distill_vectors,
    evaluate,
    fetch_minilm,
    label_prior,
    pretrain_elmo,
    report,
    students,
    teacher_inference,
)

__all__ = ["app"]
