"""``python -m spacy_kd pretrain-elmo``: parse the options, run ``pretrain_elmo``."""

from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors, write_summary


def _int_list(value: Optional[str], name: str) -> Optional[List[int]]:
    if value is None:
        return None
    try:
        return [int(v) for v in value.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated integers, got {value!r}", param_hint=name
        ) from None


def _filters(value: Optional[str]) -> Optional[List[List[int]]]:
    if value is None:
        return None
    pairs = []
    for item in value.replace(" ", "").split(","):
        try:
            width, number = item.split(":")
            pairs.append([int(width), int(number)])
        except ValueError:
            raise typer.BadParameter(
                f"expected WIDTH:NUMBER pairs like 1:32,2:32,3:64, got {item!r}",
                param_hint="--filters",
            ) from None
    return pairs


@app.command("pretrain-elmo")
def pretrain_elmo_cli(
    input_path: Path = typer.Argument(
        ...,
        help="Raw text: .jsonl/.csv ('text'), .spacy, or plain text (one doc per line)",
        dir_okay=False,
    ),
    output_dir: Path = typer.Argument(
        ...,
        help="Folder for options.json, weights.hdf5, vocab.txt, metrics.json, "
        "checkpoint.pt",
        file_okay=False,
    ),
    preset: str = typer.Option(
        "small", "--preset", help="Size preset: tiny, small, medium, large"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in OUTPUT_DIR from its checkpoint"
    ),
    overwrite: bool = overwrite_option(),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="jsonl, csv, text or spacy (default: from the extension)"
    ),
    lang: str = typer.Option(
        "en", "--lang", help="Language of the tokenizer for raw text"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to train on (-1: CPU)"),
    threads: int = typer.Option(
        1, "--threads", help="torch CPU threads (0: torch's default)"
    ),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="Show a progress bar"
    ),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Also write the JSON summary here"
    ),
    # every size and training setting of the preset can be overridden
    char_embed_dim: Optional[int] = typer.Option(
        None, "--char-embed-dim", help="Character embedding width"
    ),
    filters: Optional[str] = typer.Option(
        None, "--filters", help="CNN filters as WIDTH:NUMBER,... e.g. 1:32,2:32,3:64"
    ),
    n_highway: Optional[int] = typer.Option(None, "--n-highway", help="Highway layers"),
    projection_dim: Optional[int] = typer.Option(
        None, "--projection-dim", help="LSTM projection (output width per direction)"
    ),
    cell_dim: Optional[int] = typer.Option(None, "--cell-dim", help="LSTM cell width"),
    n_layers: Optional[int] = typer.Option(None, "--n-layers", help="LSTM layers"),
    cell_clip: Optional[float] = typer.Option(
        None, "--cell-clip", help="Cell clip (0: none)"
    ),
    proj_clip: Optional[float] = typer.Option(
        None, "--proj-clip", help="Projection clip (0: none)"
    ),
    vocab_size: Optional[int] = typer.Option(
        None, "--vocab-size", help="Output vocabulary, special tokens included"
    ),
    min_count: Optional[int] = typer.Option(
        None, "--min-count", help="Minimum count of a vocabulary word"
    ),
    cutoffs: Optional[str] = typer.Option(
        None, "--cutoffs", help="Adaptive softmax cutoffs, e.g. 1000,5000"
    ),
    div_value: Optional[float] = typer.Option(
        None, "--div-value", help="Adaptive softmax width divisor"
    ),
    window: Optional[int] = typer.Option(
        None, "--window", help="Tokens per training sequence"
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Sequences per batch"
    ),
    epochs: Optional[int] = typer.Option(
        None, "--epochs", help="Epochs (may grow on --resume)"
    ),
    max_tokens_per_epoch: Optional[int] = typer.Option(
        None,
        "--max-tokens-per-epoch",
        help="Cap on training tokens per epoch (0: the whole corpus)",
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help="Adam learning rate"),
    warmup_steps: Optional[int] = typer.Option(
        None, "--warmup-steps", help="Linear learning-rate warm-up steps"
    ),
    dropout: Optional[float] = typer.Option(
        None, "--dropout", help="Dropout on LSTM inputs and softmax inputs"
    ),
    clip_norm: Optional[float] = typer.Option(
        None, "--clip-norm", help="Gradient norm clip"
    ),
    heldout_fraction: Optional[float] = typer.Option(
        None, "--heldout-fraction", help="Share of documents held out"
    ),
    max_heldout_tokens: Optional[int] = typer.Option(
        None, "--max-heldout-tokens", help="Held-out tokens evaluated per epoch"
    ),
    checkpoint_every: Optional[int] = typer.Option(
        None,
        "--checkpoint-every",
        help="Also checkpoint every N steps (0: per epoch only)",
    ),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed"),
) -> None:
    """Pretrain an ELMo biLM (forward + backward LM over characters) on raw text.

    Writes allennlp-format options.json + weights.hdf5 for spacy-kd.ElmoTok2Vec.v1,
    reports held-out perplexity (and a unigram model's) after every epoch, and
    checkpoints so that --resume continues an interrupted run.
    """
    from spacy_kd.elmo.pretrain import pretrain_elmo

    overrides: Dict[str, Any] = {
        "char_embed_dim": char_embed_dim,
        "filters": _filters(filters),
        "n_highway": n_highway,
        "projection_dim": projection_dim,
        "cell_dim": cell_dim,
        "n_layers": n_layers,
        "cell_clip": cell_clip,
        "proj_clip": proj_clip,
        "vocab_size": vocab_size,
        "min_count": min_count,
        "cutoffs": _int_list(cutoffs, "--cutoffs"),
        "div_value": div_value,
        "window": window,
        "batch_size": batch_size,
        "epochs": epochs,
        "max_tokens_per_epoch": max_tokens_per_epoch,
        "lr": lr,
        "warmup_steps": warmup_steps,
        "dropout": dropout,
        "clip_norm": clip_norm,
        "heldout_fraction": heldout_fraction,
        "max_heldout_tokens": max_heldout_tokens,
        "checkpoint_every": checkpoint_every,
        "seed": seed,
    }
    with user_errors(ValueError):  # ValueError: a bad setting
        result = pretrain_elmo(
            input_path, output_dir, preset=preset, overrides=overrides, resume=resume,
            overwrite=overwrite, extra_outputs=[summary], fmt=fmt, lang=lang,
            device="cpu" if gpu_id < 0 else f"cuda:{gpu_id}", threads=threads,
            show_progress=progress, log=msg.info,
        )  # fmt: skip
    final = result.final
    if final is not None:
        msg.good(
            f"Pretrained ELMo in {output_dir}: "
            f"held-out perplexity {final['heldout_ppl']:.1f} "
            f"(unigram {result.unigram_ppl:.1f}) after {final['epoch']} epochs"
        )
    write_summary(result, summary)
