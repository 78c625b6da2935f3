"""``python -m spacy_kd configs``: the project's configs for one label kind (thin
wrapper)."""

from pathlib import Path

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors
from spacy_kd.errors import DataError
from spacy_kd.label_kind import parse_bool, write_kind_configs


@app.command("configs")
def configs_cli(
    source_dir: Path = typer.Argument(..., help="Folder of .cfg files, e.g. configs"),
    output_dir: Path = typer.Argument(..., help="Folder for the switched configs"),
    multi_label: str = typer.Option(
        "false",
        "--multi-label",
        help="true: multi-label classifiers (textcat_multilabel, sigmoid outputs); "
        "false: exclusive ones",
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Write every config of SOURCE_DIR into OUTPUT_DIR with its text classifier
    switched to one label kind: the factory (textcat <-> textcat_multilabel,
    kd_textcat <-> kd_textcat_multilabel), the model's exclusive_classes, the scorer
    and the threshold. Each written config trains with plain `spacy train`.
    """
    with user_errors(ValueError):
        multi = parse_bool(multi_label, "--multi-label")
        if not source_dir.is_dir():
            raise DataError(source_dir, "not a folder of configs")
        sources = sorted(source_dir.glob("*.cfg"))
        if not sources:
            raise DataError(source_dir, "holds no .cfg file")
        changes = write_kind_configs(sources, output_dir, multi, overwrite=overwrite)
    kind = "multi-label" if multi else "exclusive"
    switched = sum(1 for c in changes.values() if c)
    msg.good(f"{len(changes)} configs for {kind} labels in {output_dir}")
    msg.info(f"{switched} switched, {len(changes) - switched} already {kind}")
