"""The pretraining run: data, model, optimizer, epochs, evaluation, checkpoints."""

import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy
from tqdm import tqdm

from spacy_kd.elmo.pretrain.batches import Batcher, LmWindows, epoch_batches
from spacy_kd.elmo.pretrain.checkpoint import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    load_checkpoint,
    save_checkpoint,
)
from spacy_kd.elmo.pretrain.corpus import (
    corpus_fingerprint,
    read_token_lists,
    split_heldout,
)
from spacy_kd.elmo.pretrain.metrics import (
    EpochMetrics,
    PretrainSummary,
    evaluate_heldout,
    unigram_perplexity,
)
from spacy_kd.elmo.pretrain.settings import (
    DEFAULT_PRESET,
    PretrainSettings,
    resume_settings,
)
from spacy_kd.elmo.pretrain.vocab import UNK_ID, VOCAB_FILE, build_vocab, write_vocab
from spacy_kd.errors import DataError
from spacy_kd.util import (
    OVERWRITE_FLAG,
    check_default_output,
    check_outputs,
    write_json_atomic,
)

PathLike = Union[str, Path]

METRICS_FILE = "metrics.json"
HELDOUT_STREAM = 1 << 20  # the random stream that picks the held-out sample


def pretrain_elmo(
    input_path: PathLike,
    output_dir: PathLike,
    *,
    preset: str = DEFAULT_PRESET,
    overrides: Optional[Dict[str, Any]] = None,
    resume: bool = False,
    overwrite: bool = False,
    fmt: Optional[str] = None,
    lang: str = "en",
    device: str = "cpu",
    threads: Optional[int] = 1,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after_steps: Optional[int] = None,
    extra_outputs: Sequence[Optional[PathLike]] = (),
) -> PretrainSummary:
    """Pretrain an ELMo biLM on a raw-text corpus; see the package docstring.

    Writes into ``output_dir``: ``options.json`` + ``weights.hdf5`` (allennlp's
    layout, loadable by ``spacy-kd.ElmoTok2Vec.v1``), ``vocab.txt``,
    ``metrics.json`` (settings, corpus statistics, per-epoch perplexities) and
    ``checkpoint.pt``.

    overrides: settings that replace the preset's (see :class:`PretrainSettings`).
    resume: continue from ``output_dir/checkpoint.pt``; without it an existing
        checkpoint is an error (so a finished run is never overwritten by mistake).
    overwrite: start afresh in an ``output_dir`` that holds another run (its files
        are replaced as the new run writes them); not with ``resume``.
    extra_outputs: files the caller will write afterwards (a summary), checked
        against the run's inputs and outputs before anything is written.
    threads: torch's CPU threads during the run (1 is the fastest on a busy
        2-core machine, where more threads wait on each other; ``None`` or 0:
        leave torch's setting).
    stop_after_steps: stop (after checkpointing) once this many optimizer steps
        have run in this call; for tests of interrupted runs.
    """
    import torch

    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _pretrain(
            Path(input_path), Path(output_dir), preset=preset, overrides=overrides,
            resume=resume, overwrite=overwrite, fmt=fmt, lang=lang, device=device,
            show_progress=show_progress, log=log, stop_after_steps=stop_after_steps,
            extra_outputs=extra_outputs,
        )  # fmt: skip
    finally:
        torch.set_num_threads(previous_threads)


def _pretrain(
    input_path: Path,
    output_dir: Path,
    *,
    preset: str,
    overrides: Optional[Dict[str, Any]],
    resume: bool,
    overwrite: bool,
    fmt: Optional[str],
    lang: str,
    device: str,
    show_progress: bool,
    log: Callable[[str], None],
    stop_after_steps: Optional[int],
    extra_outputs: Sequence[Optional[PathLike]],
) -> PretrainSummary:
    import torch

    from spacy_kd.elmo.file_format import OPTIONS_FILE, WEIGHTS_FILE, save_bilm
    from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
    from spacy_kd.elmo.pytorch.language_model import ElmoLanguageModel

    overrides = dict(overrides or {})
    checkpoint_path = output_dir / CHECKPOINT_FILE
    run_files = [
        output_dir / name
        for name in (OPTIONS_FILE, WEIGHTS_FILE, VOCAB_FILE, METRICS_FILE)
    ] + [checkpoint_path]
    check_outputs([input_path], [*run_files, *extra_outputs], folders=[output_dir])
    if resume and overwrite:
        raise DataError(
            output_dir, f"give --resume or {OVERWRITE_FLAG}, not both: continue the "
            "run in it, or start afresh"
        )  # fmt: skip
    state: Optional[Dict[str, Any]] = None
    if resume:
        if not checkpoint_path.is_file():
            raise DataError(checkpoint_path, "no checkpoint to resume from")
        state = load_checkpoint(checkpoint_path)
        settings = resume_settings(
            state["settings"], preset, overrides, checkpoint_path
        )
    else:
        if checkpoint_path.exists() and not overwrite:
            raise DataError(
                output_dir,
                "already holds a pretraining run (checkpoint.pt): pass --resume to "
                f"continue it, {OVERWRITE_FLAG} to start afresh, or choose another "
                "output directory",
            )
        for path in run_files:  # what a new run writes cannot be known beforehand
            check_default_output(path, None, overwrite)
        settings = PretrainSettings.from_preset(preset, overrides)

    token_lists = read_token_lists(input_path, fmt=fmt, lang=lang)
    if len(token_lists) < 2:
        raise DataError(
            input_path, f"needs at least 2 documents (found {len(token_lists)})"
        )
    fingerprint = corpus_fingerprint(token_lists)
    if state is not None and state["corpus"] != fingerprint:
        raise DataError(input_path, "is not the corpus this checkpoint was trained on")
    train_ids, heldout_ids = split_heldout(
        len(token_lists), settings.heldout_fraction, settings.seed
    )
    train_docs = [token_lists[i] for i in train_ids]
    heldout_docs = [token_lists[i] for i in heldout_ids]
    vocab = (
        list(state["vocab"])
        if state is not None
        else build_vocab(train_docs, settings.vocab_size, settings.min_count)
    )
    index = {w: i for i, w in enumerate(vocab)}
    train = LmWindows.build(train_docs, index, settings.window)
    heldout_all = LmWindows.build(heldout_docs, index, settings.window)
    if train.n_tokens == 0 or heldout_all.n_tokens == 0:
        raise DataError(input_path, "has no tokens to train on or to hold out")
    # a fixed held-out sample, capped at max_heldout_tokens
    pick = epoch_batches(
        [len(t) for t in heldout_all.tokens],
        1,
        settings.seed,
        HELDOUT_STREAM,
        settings.max_heldout_tokens,
    )
    chosen = sorted(b[0] for b in pick)
    heldout = LmWindows(
        [heldout_all.tokens[i] for i in chosen],
        [heldout_all.targets[i] for i in chosen],
    )
    unigram = unigram_perplexity(train, heldout, len(vocab))
    train_flat = numpy.concatenate(train.targets)
    heldout_flat = numpy.concatenate(heldout.targets)
    summary = PretrainSummary(
        output_dir=str(output_dir),
        settings=settings.to_dict(),
        n_docs=len(token_lists),
        n_train_docs=len(train_docs),
        n_heldout_docs=len(heldout_docs),
        n_train_tokens=int(train_flat.shape[0]),
        n_heldout_tokens=int(heldout_flat.shape[0]),
        vocab_size=len(vocab),
        train_oov_rate=float((train_flat == UNK_ID).mean()),
        heldout_oov_rate=float((heldout_flat == UNK_ID).mean()),
        unigram_ppl=unigram,
    )

    torch_device = torch.device(device)
    torch.manual_seed(settings.seed)
    bilm = ElmoBiLm(settings.elmo_options(len(vocab)), dropout=settings.dropout)
    lm = ElmoLanguageModel(
        bilm,
        len(vocab),
        cutoffs=settings.cutoffs,
        div_value=settings.div_value,
        dropout=settings.dropout,
    ).to(torch_device)
    optimizer = torch.optim.Adam(lm.parameters(), lr=settings.lr)
    start_epoch, start_batch, global_step = 0, 0, 0
    train_seconds = 0.0
    if state is not None:
        lm.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if torch_device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], torch_device)
        start_epoch, start_batch = state["epoch"], state["batch"]
        global_step = state["global_step"]
        summary.epochs = list(state["history"])
        train_seconds = state.get("train_seconds", 0.0)
        if start_epoch >= settings.epochs:
            raise DataError(
                checkpoint_path,
                f"the run already finished its {settings.epochs} epochs: pass a larger "
                "--epochs to train on",
            )
        log(
            f"Resuming from epoch {start_epoch + 1}, batch {start_batch}, "
            f"step {global_step}"
        )
    if state is None:  # a fresh run: another run's checkpoint must not be resumed
        checkpoint_path.unlink(missing_ok=True)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_vocab(vocab, output_dir / VOCAB_FILE)
    log(
        f"{len(token_lists)} docs: "
        f"{len(train_docs)} train ({summary.n_train_tokens} tokens), "
        f"{len(heldout_docs)} held out ({summary.n_heldout_tokens} tokens evaluated); "
        f"vocabulary {len(vocab)} (train OOV {summary.train_oov_rate:.1%}); "
        f"unigram held-out perplexity {unigram:.1f}"
    )

    def checkpoint(epoch: int, batch: int, epoch_state: Dict[str, Any]) -> None:
        save_checkpoint(
            checkpoint_path,
            {
                "format": CHECKPOINT_FORMAT,
                "settings": settings.to_dict(),
                "corpus": fingerprint,
                "vocab": vocab,
                "epoch": epoch,
                "batch": batch,
                "global_step": global_step,
                "model": lm.state_dict(),
                "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": (
                    torch.cuda.get_rng_state(torch_device)
                    if torch_device.type == "cuda"
                    else None
                ),
                "history": summary.epochs,
                "train_seconds": train_seconds,
                "epoch_state": epoch_state,
            },
        )

    lengths = [len(t) for t in train.tokens]
    batcher = Batcher(train, torch_device)
    heldout_batcher = Batcher(heldout, torch_device)
    steps_this_call = 0
    lm.train()
    for epoch in range(start_epoch, settings.epochs):
        batches = epoch_batches(
            lengths,
            settings.batch_size,
            settings.seed,
            epoch,
            settings.max_tokens_per_epoch,
        )
        epoch_state = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        if state is not None and epoch == start_epoch and start_batch > 0:
            epoch_state = dict(state["epoch_state"])
        first = start_batch if epoch == start_epoch else 0
        progress = tqdm(
            total=len(batches),
            initial=first,
            desc=f"epoch {epoch + 1}/{settings.epochs}",
            unit="batch",
            leave=False,
            dynamic_ncols=True,
            disable=not show_progress,
        )
        for b in range(first, len(batches)):
            tick = time.perf_counter()
            ids, lens, targets = batcher(batches[b])
            lr = settings.lr * min(
                1.0, (global_step + 1) / max(1, settings.warmup_steps)
            )
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = lm(ids, lens, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), settings.clip_norm)
            optimizer.step()
            global_step += 1
            steps_this_call += 1
            n_tok = int(targets.shape[0])
            elapsed = time.perf_counter() - tick
            epoch_state["loss_sum"] += float(loss.detach()) * n_tok
            epoch_state["tokens"] += n_tok
            epoch_state["seconds"] += elapsed
            train_seconds += elapsed
            progress.update(1)
            tok_s = epoch_state["tokens"] / max(epoch_state["seconds"], 1e-9)
            progress.set_postfix(
                loss=f"{epoch_state['loss_sum'] / epoch_state['tokens']:.3f}",
                tok_s=f"{tok_s:.0f}",
            )
            last_of_epoch = b + 1 == len(batches)
            every = settings.checkpoint_every
            stop = stop_after_steps is not None and steps_this_call >= stop_after_steps
            if not last_of_epoch and ((every and global_step % every == 0) or stop):
                checkpoint(epoch, b + 1, epoch_state)
            if stop and not last_of_epoch:
                progress.close()
                log(f"Stopped after {steps_this_call} steps (checkpoint saved)")
                return summary
        progress.close()
        tick = time.perf_counter()
        ppl_f, ppl_b = evaluate_heldout(lm, heldout_batcher, settings.batch_size)
        metrics = EpochMetrics(
            epoch=epoch + 1,
            steps=global_step,
            train_tokens=int(epoch_state["tokens"]),
            train_loss=epoch_state["loss_sum"] / max(epoch_state["tokens"], 1),
            heldout_ppl_forward=ppl_f,
            heldout_ppl_backward=ppl_b,
            heldout_ppl=math.sqrt(ppl_f * ppl_b),
            unigram_ppl=unigram,
            seconds=epoch_state["seconds"] + time.perf_counter() - tick,
            train_tokens_per_second=epoch_state["tokens"]
            / max(epoch_state["seconds"], 1e-9),
        )
        summary.epochs.append(asdict(metrics))
        save_bilm(bilm, output_dir)
        write_json_atomic(output_dir / METRICS_FILE, summary.to_dict())
        checkpoint(epoch + 1, 0, {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0})
        log(
            f"Epoch {epoch + 1}/{settings.epochs}: "
            f"train loss {metrics.train_loss:.3f}, "
            f"held-out perplexity {metrics.heldout_ppl:.1f} (forward {ppl_f:.1f}, "
            f"backward {ppl_b:.1f}; unigram {unigram:.1f}), "
            f"{metrics.train_tokens_per_second:.0f} train tokens/s"
        )
        if stop_after_steps is not None and steps_this_call >= stop_after_steps:
            return summary
    return summary
