"""``python -m spacy_kd teacher-inference``: a BERT teacher run faster (thin
wrapper)."""

from pathlib import Path

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors
from spacy_kd.teachers.settings import switch_inference


@app.command("teacher-inference")
def teacher_inference_cli(
    teacher_dir: Path = typer.Argument(..., help="A trained BERT teacher pipeline"),
    output_dir: Path = typer.Argument(..., help="Folder for the copy"),
    window_batch_size: int = typer.Option(
        32,
        "--window-batch-size",
        help="Run each batch's windows sorted by length, this many at a time, each "
        "group padded to its own longest window (0: the whole batch at once)",
    ),
    quantize: str = typer.Option(
        "none",
        "--quantize",
        help="int8: int8 weights (onnxruntime; pip install spacy_kd[int8]); none: "
        "float32",
    ),  # fmt: skip
    overwrite: bool = overwrite_option(),
) -> None:
    """Copy a BERT teacher pipeline with other inference settings: windows batched
    by length and int8 weights. The weights are the same; only the copy's config
    differs, so `spacy.load`, `evaluate` and `annotate` all run it that way."""
    with user_errors(ValueError, ImportError):
        if quantize not in ("none", "int8"):
            raise ValueError(f"--quantize takes none or int8, got {quantize!r}")
        blocks = switch_inference(
            teacher_dir, output_dir, window_batch_size=window_batch_size,
            quantize=None if quantize == "none" else quantize, overwrite=overwrite,
        )  # fmt: skip
    msg.good(
        f"{output_dir}: {teacher_dir} with window_batch_size={window_batch_size}, "
        f"quantize={quantize} ({', '.join(blocks)})"
    )
