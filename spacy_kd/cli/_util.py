"""Shared CLI plumbing: turn bad input into a clean message and a non-zero exit."""

import contextlib
from pathlib import Path
from typing import Any, Iterator, Optional, Tuple, Type

import typer
from wasabi import msg

from spacy_kd.errors import DataError
from spacy_kd.util import write_json_atomic


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
