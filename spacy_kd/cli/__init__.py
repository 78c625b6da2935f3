"""The ``python -m spacy_kd`` command line: one module per command group."""

import typer

app = typer.Typer(
    name="spacy_kd",
    help="Distil big contextual text classifiers into compact spaCy students.",
    no_args_is_help=True,
    add_completion=False,
)

from . import data  # noqa: E402,F401  (registers the `data` commands)
from . import evaluate  # noqa: E402,F401  (registers the `evaluate` command)
from . import pretrain_elmo  # noqa: E402,F401  (registers the `pretrain-elmo` command)

__all__ = ["app"]
