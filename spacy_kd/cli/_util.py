"""Shared CLI plumbing: turn bad input into a clean message and a non-zero exit."""

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple, Type

import typer
from wasabi import msg

from spacy_kd.errors import DataError
from spacy_kd.util import OVERWRITE_FLAG, write_json_atomic

# the one --overwrite of every command: an existing output that differs from what the
# command would write (a default one, such as labels.json) is replaced, not refused
OVERWRITE_HELP = (
    "Replace existing output files that differ from what this command writes "
    "(without it they are an error and nothing is written)"
)


def overwrite_option() -> Any:
    """The ``--overwrite`` option, the same in every command."""
    return typer.Option(False, OVERWRITE_FLAG, help=OVERWRITE_HELP)


@contextlib.contextmanager
def user_errors(*also: Type[Exception]) -> Iterator[None]:
    """Report a DataError (or one of the ``also`` errors) as one ``✘`` line on
    stderr and exit with code 1."""
    caught: Tuple[Type[Exception], ...] = (DataError, *also)
    try:
        yield
    except caught as e:
        typer.echo(f"✘ {e}", err=True)
        raise typer.Exit(code=1) from None


def write_summary(summary: Any, path: Optional[Path]) -> None:
    """Write a summary (its ``to_dict()`` if it has one) as JSON to ``path``; do
    nothing when ``path`` is None."""
    if path is None:
        return
    data = summary.to_dict() if hasattr(summary, "to_dict") else summary
    write_json_atomic(path, data)
    msg.info(f"Summary written to {path}")
