"""``python -m spacy_kd distill-vectors``: static word vectors from the teacher's
encoder, for the CNN students (thin wrapper)."""

from pathlib import Path
from typing import List

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors
from spacy_kd.distillation.encoder import DEFAULT_BATCH_SIZE
from spacy_kd.distillation.vector_fit import (
    DEFAULT_FIT_EPOCHS,
    DEFAULT_FIT_L2,
    DEFAULT_FIT_TOKENS,
)
from spacy_kd.distillation.vectors import (
    DEFAULT_DIMS,
    DEFAULT_MAX_WORDS,
    DEFAULT_MIN_COUNT,
    SPACY_DIR,
    distill_vectors,
    words_per_second,
)


@app.command("distill-vectors")
def distill_vectors_cli(
    encoder_dir: Path = typer.Argument(
        ..., help="Transformer encoder folder, e.g. assets/all-MiniLM-L6-v2"
    ),
    output_dir: Path = typer.Argument(
        ..., help="Folder for vectors.txt, summary.json and spacy/"
    ),
    docs: List[Path] = typer.Option(
        ..., "--docs", help=".spacy corpus whose words get vectors (repeatable)"
    ),
    dims: int = typer.Option(DEFAULT_DIMS, "--dims", help="Vector width (PCA)"),
    min_count: int = typer.Option(
        DEFAULT_MIN_COUNT, "--min-count", help="Keep words seen this often"
    ),
    max_words: int = typer.Option(
        DEFAULT_MAX_WORDS, "--max-words", help="Keep the most frequent (0: all)"
    ),
    batch_size: int = typer.Option(
        DEFAULT_BATCH_SIZE, "--batch-size", help="Words per encoder batch"
    ),
    threads: int = typer.Option(
        0, "--threads", help="torch threads while encoding (0: torch's default)"
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the docs"),
    overwrite: bool = overwrite_option(),
    fit_docs: List[Path] = typer.Option(
        [],
        "--fit-docs",
        help=".spacy corpus whose docs' encoder features the vectors are fitted to "
        "(repeatable; none: model2vec's vectors)",
    ),
    fit_l2: float = typer.Option(
        DEFAULT_FIT_L2, "--fit-l2", help="Ridge penalty towards model2vec's vectors"
    ),
    fit_epochs: int = typer.Option(
        DEFAULT_FIT_EPOCHS,
        "--fit-epochs",
        help="Full-batch Adam steps of the fit (0: no fit)",
    ),
    fit_tokens: int = typer.Option(
        DEFAULT_FIT_TOKENS, "--fit-tokens", help="First tokens of a fit doc read"
    ),
    vocab: str = typer.Option(
        "corpus",
        "--vocab",
        help="Words that get vectors: corpus (the docs'), or corpus+encoder (then the "
        "encoder tokenizer's whole words the docs lack)",
    ),
) -> None:
    """Distil static word vectors (model2vec's recipe) from a transformer encoder
    over the words of .spacy corpora.

    OUTPUT_DIR/spacy is what a student config takes as --paths.vectors (the vectors
    are keyed by the lowercase form of a word).
    """
    with user_errors():
        summary = distill_vectors(
            encoder_dir, output_dir, docs, dims=dims, min_count=min_count,
            max_words=max_words, batch_size=batch_size, threads=threads, lang=lang,
            overwrite=overwrite, fit_docs=fit_docs, fit_l2=fit_l2,
            fit_epochs=fit_epochs, fit_tokens=fit_tokens, vocab=vocab,
        )  # fmt: skip
    msg.good(
        f"{summary.n_words} words x {summary.dims} dims in {output_dir / SPACY_DIR} "
        f"({summary.explained_variance:.1%} of the variance kept; "
        f"{words_per_second(summary):.0f} words/s, {summary.seconds:.1f}s in all)"
    )
    if summary.fit is not None:
        fit = summary.fit
        msg.info(
            f"Fitted to {fit['n_docs']} docs' encoder features: mean cosine "
            f"{fit['cosine_before']:.3f} -> {fit['cosine_after']:.3f} "
            f"({fit['seconds']:.1f}s)"
        )
    if summary.dropped:
        msg.warn(f"{len(summary.dropped)} words had no subwords and were dropped")
