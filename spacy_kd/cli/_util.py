"""Shared CLI plumbing: turn DataError into a clean message and a non-zero exit."""

import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import srsly
import typer
from wasabi import msg

from spacy_kd.errors import DataError
from spacy_kd.util import write_json_atomic


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Report bad input as one ``✘`` line on stderr and exit with code 1."""
    try:
        yield
    except DataError as e:
        typer.echo(f"✘ {e}", err=True)
        raise typer.Exit(code=1) from None


def write_summary(summary: Any, path: Optional[Path]) -> None:
    """Print a JSON summary, or write it to ``path`` when given."""
    data = summary.to_dict() if hasattr(summary, "to_dict") else summary
    if path is None:
        return
    write_json_atomic(path, data)
    msg.info(f"Summary written to {path}")


def dump(data: Any) -> None:
    sys.stdout.write(srsly.json_dumps(data, indent=2) + "\n")
