"""``python -m spacy_kd augment``: a larger transfer set by Tang et al. (2019)
augmentation of an unlabelled DocBin (a thin wrapper)."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors, write_summary
from spacy_kd.data.augment import augment_docbin


@app.command("augment")
def augment_cli(
    input_path: Path = typer.Argument(
        ..., help="Unlabelled .spacy pool (pool.spacy)", dir_okay=False
    ),
    output_path: Path = typer.Argument(
        ..., help="Output .spacy: the docs, then their copies", dir_okay=False
    ),
    copies: int = typer.Option(
        ..., "--copies", help="Augmented copies of each doc (0: the docs only)"
    ),
    windows: int = typer.Option(
        0,
        "--windows",
        help="Also each long doc's consecutive windows of this many words, as "
        "docs of their own (0: none)",
    ),
    seed: int = typer.Option(0, "--seed"),
    p_mask: float = typer.Option(
        0.1, "--p-mask", help="Chance that a word becomes [MASK]"
    ),
    p_replace: float = typer.Option(
        0.1, "--p-replace", help="Chance that a word becomes another of its class"
    ),
    p_ngram: float = typer.Option(
        0.25, "--p-ngram", help="Chance that a copy is cut to a window of itself"
    ),
    max_ngram: int = typer.Option(
        5, "--max-ngram", help="Windows are at least 1..max-ngram words long"
    ),
    ngram_fraction: float = typer.Option(
        0.5, "--ngram-fraction", help="Windows are up to this fraction of a doc"
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the tokenizer"),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Write a JSON summary here"
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Tang et al. (2019) augmentation: every doc, then noisy unlabelled copies.

    Words are masked or replaced by corpus words of the same shape and frequency
    band, and copies cut to windows of themselves, for the teachers to annotate.
    """
    with user_errors():
        result = augment_docbin(
            input_path, output_path, copies=copies, windows=windows, seed=seed,
            p_mask=p_mask, p_replace=p_replace, p_ngram=p_ngram, max_ngram=max_ngram,
            ngram_fraction=ngram_fraction, lang=lang, overwrite=overwrite,
            extra_outputs=[summary],
        )  # fmt: skip
    for warning in result.warnings:
        msg.warn(f"{input_path}: {warning}")
    verb = "Wrote" if result.written else "Kept (it already held them)"
    msg.good(
        f"Read {result.n_input} docs from {input_path}; {verb} {result.n_output} "
        f"docs in {output_path} ({result.n_input} originals + "
        f"{result.n_augmented - result.n_windows} augmented copies + "
        f"{result.n_windows} windows)"
    )
    if result.n_words:
        msg.info(
            f"Copies: {result.n_masked / result.n_words:.1%} of words masked, "
            f"{result.n_replaced / result.n_words:.1%} replaced; "
            f"{result.n_windowed} of {result.n_augmented} cut to a window"
        )
    write_summary(result, summary)
