"""Pretrain an ELMo biLM on raw text: ``python -m spacy_kd pretrain-elmo``.

The forward LM predicts each token from the ones before it, the backward LM from
the ones after it; both read characters (the ELMo character CNN) and share an
adaptive softmax over the most frequent words. Documents are cut into windows of
``window`` tokens, each a sequence of its own. Every epoch ends with the held-out
perplexity (next to a unigram model's on the same tokens and vocabulary), the
biLM in allennlp's ``options.json`` + ``weights.hdf5`` layout, and a checkpoint
from which ``resume=True`` continues (mid-epoch checkpoints with
``checkpoint_every``). An interrupted run resumed from its checkpoint ends with
exactly the weights of an uninterrupted one.
"""

import copy
import hashlib
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy

from spacy_kd.errors import DataError
from spacy_kd.util import atomic_open, atomic_path, write_json_atomic

PathLike = Union[str, Path]

VOCAB_FILE = "vocab.txt"
METRICS_FILE = "metrics.json"
CHECKPOINT_FILE = "checkpoint.pt"
SPECIAL_TOKENS = ("</S>", "<S>", "<UNK>")  # bilm-tf's vocabulary file starts so
UNK_ID = 2
CHECKPOINT_FORMAT = 1
HELDOUT_STREAM = 1 << 20  # the random stream that picks the held-out sample

PRESETS: Dict[str, Dict[str, Any]] = {
    # seconds on 2 CPU cores: for tests
    "tiny": dict(
        char_embed_dim=8,
        filters=[[1, 8], [2, 8], [3, 16]],
        n_highway=1,
        projection_dim=16,
        cell_dim=32,
        n_layers=2,
        vocab_size=300,
        cutoffs=[100],
        window=16,
        batch_size=8,
        epochs=2,
        max_tokens_per_epoch=4000,
        lr=0.005,
        warmup_steps=5,
        dropout=0.1,
        max_heldout_tokens=2000,
    ),
    # the default: 20 Newsgroups' unlabelled pool in about 15 minutes on 2 CPU cores
    "small": dict(
        char_embed_dim=16,
        filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 128]],
        n_highway=1,
        projection_dim=128,
        cell_dim=256,
        n_layers=2,
        vocab_size=20000,
        cutoffs=[1000, 5000],
        window=64,
        batch_size=32,
        epochs=3,
        max_tokens_per_epoch=600_000,
        lr=0.002,
        warmup_steps=100,
        dropout=0.1,
        max_heldout_tokens=30_000,
    ),
    # a few hours on a multi-core CPU, minutes on a GPU
    "medium": dict(
        char_embed_dim=16,
        filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512]],
        n_highway=2,
        projection_dim=256,
        cell_dim=1024,
        n_layers=2,
        vocab_size=50000,
        cutoffs=[2000, 10000],
        window=64,
        batch_size=64,
        epochs=10,
        max_tokens_per_epoch=None,
        lr=0.001,
        warmup_steps=500,
        dropout=0.1,
        max_heldout_tokens=100_000,
    ),
    # the sizes of the original ELMo (allennlp's "elmo_2x4096_512_2048cnn_2xhighway"):
    # a GPU and a big corpus
    "large": dict(
        char_embed_dim=16,
        filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
        n_highway=2,
        projection_dim=512,
        cell_dim=4096,
        n_layers=2,
        vocab_size=200000,
        cutoffs=[4000, 20000, 100000],
        window=64,
        batch_size=128,
        epochs=10,
        max_tokens_per_epoch=None,
        lr=0.001,
        warmup_steps=1000,
        dropout=0.1,
        max_heldout_tokens=200_000,
    ),
}
DEFAULT_PRESET = "small"
# settings a resumed run may change; any other must match the checkpoint
RESUMABLE = ("epochs", "checkpoint_every")


@dataclass
class PretrainSettings:
    """Every size and training setting of a pretraining run (a preset plus overrides)."""

    preset: str
    char_embed_dim: int
    filters: List[List[int]]
    n_highway: int
    projection_dim: int
    cell_dim: int
    n_layers: int
    vocab_size: int
    cutoffs: List[int]
    window: int
    batch_size: int
    epochs: int
    max_tokens_per_epoch: Optional[int]
    lr: float
    warmup_steps: int
    dropout: float
    max_heldout_tokens: int
    cell_clip: Optional[float] = 3.0
    proj_clip: Optional[float] = 3.0
    min_count: int = 1
    div_value: float = 4.0
    clip_norm: float = 5.0
    heldout_fraction: float = 0.02
    checkpoint_every: int = 0
    seed: int = 0

    @classmethod
    def from_preset(
        cls, preset: str = DEFAULT_PRESET, overrides: Optional[Dict[str, Any]] = None
    ) -> "PretrainSettings":
        """A preset's settings with ``overrides`` (``None`` values are ignored)."""
        if preset not in PRESETS:
            raise ValueError(
                f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}"
            )
        values: Dict[str, Any] = {"preset": preset, **copy.deepcopy(PRESETS[preset])}
        names = {f.name for f in fields(cls)}
        for key, value in (overrides or {}).items():
            if key not in names or key == "preset":
                raise ValueError(f"unknown pretraining setting {key!r}")
            if value is not None:
                values[key] = value
        return cls(**values).validate()

    def validate(self) -> "PretrainSettings":
        # 0 means "none" for these, as on the command line and in allennlp
        if self.max_tokens_per_epoch == 0:
            self.max_tokens_per_epoch = None
        self.cell_clip = self.cell_clip or None
        self.proj_clip = self.proj_clip or None

        def need(ok: bool, key: str, problem: str) -> None:
            if not ok:
                raise ValueError(f"pretraining setting '{key}' {problem}")

        for key in (
            "char_embed_dim", "projection_dim", "cell_dim", "n_layers", "window",
            "batch_size", "epochs", "max_heldout_tokens", "min_count",
        ):  # fmt: skip
            value = getattr(self, key)
            need(
                isinstance(value, int) and value >= 1,
                key,
                f"must be an integer >= 1, got {value!r}",
            )
        need(
            self.vocab_size >= 4,
            "vocab_size",
            "must be at least 4 (3 special tokens + 1 word)",
        )
        need(self.n_highway >= 0, "n_highway", "must be >= 0")
        need(self.warmup_steps >= 0, "warmup_steps", "must be >= 0")
        need(
            self.checkpoint_every >= 0,
            "checkpoint_every",
            "must be >= 0 (0: per epoch only)",
        )
        need(self.lr > 0, "lr", "must be > 0")
        need(0 <= self.dropout < 1, "dropout", "must be in [0, 1)")
        need(0 < self.heldout_fraction < 1, "heldout_fraction", "must be in (0, 1)")
        need(
            self.max_tokens_per_epoch is None or self.max_tokens_per_epoch >= 1,
            "max_tokens_per_epoch",
            "must be >= 1 or None (whole corpus)",
        )
        need(
            bool(self.filters)
            and all(len(f) == 2 and f[0] >= 1 and f[1] >= 1 for f in self.filters),
            "filters",
            f"must be [width, number] pairs, got {self.filters!r}",
        )
        self.filters = [[int(w), int(n)] for w, n in self.filters]
        self.cutoffs = sorted(int(c) for c in self.cutoffs)
        return self

    def elmo_options(self, vocab_size: int):
        from spacy_kd.elmo.options import ElmoOptions

        return ElmoOptions(
            filters=[(w, n) for w, n in self.filters],
            projection_dim=self.projection_dim,
            cell_dim=self.cell_dim,
            n_layers=self.n_layers,
            char_embed_dim=self.char_embed_dim,
            n_highway=self.n_highway,
            cell_clip=self.cell_clip,
            proj_clip=self.proj_clip,
            extra={
                # bilm-tf's bookkeeping keys (allennlp ignores them)
                "n_tokens_vocab": vocab_size,
                "unroll_steps": self.window,
                "dropout": self.dropout,
            },
        ).validate()

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class EpochMetrics:
    epoch: int
    steps: int
    train_tokens: int
    train_loss: float
    heldout_ppl_forward: float
    heldout_ppl_backward: float
    heldout_ppl: float
    unigram_ppl: float
    seconds: float
    train_tokens_per_second: float


@dataclass
class PretrainSummary:
    output_dir: str
    settings: Dict[str, Any]
    n_docs: int
    n_train_docs: int
    n_heldout_docs: int
    n_train_tokens: int
    n_heldout_tokens: int
    vocab_size: int
    train_oov_rate: float
    heldout_oov_rate: float
    unigram_ppl: float
    epochs: List[Dict[str, Any]] = field(default_factory=list)

    @property
    def final(self) -> Optional[Dict[str, Any]]:
        return self.epochs[-1] if self.epochs else None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- corpus


def read_token_lists(
    path: PathLike, fmt: Optional[str] = None, lang: str = "en"
) -> List[List[str]]:
    """Tokens of every document of a JSONL/CSV (``text``), plain-text or DocBin corpus.

    fmt: ``jsonl``, ``csv``, ``text`` (one document per non-empty line) or
        ``spacy`` (DocBin); default from the extension (``.txt`` and unknown
        extensions are plain text). Texts are tokenized with ``spacy.blank(lang)``;
        whitespace tokens are dropped.
    """
    import spacy

    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a corpus file")
    suffix = path.suffix.lower()
    if fmt is None:
        fmt = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
               ".tsv": "csv", ".spacy": "spacy"}.get(suffix, "text")  # fmt: skip
    if fmt == "spacy":
        from spacy_kd.data.docbin import read_docbin

        docs = read_docbin(path, lang=lang)
        return [[t.text for t in doc if not t.is_space] for doc in docs]
    if fmt in ("jsonl", "csv"):
        from spacy_kd.data.records import read_records

        texts = [record.text for record in read_records(path, fmt)]
    elif fmt == "text":
        try:
            raw = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            line = path.read_bytes()[: e.start].count(b"\n") + 1
            raise DataError(path, f"not valid UTF-8: {e.reason}", line=line) from None
        texts = [line for line in raw.splitlines() if line.strip()]
    else:
        raise DataError(
            path, f"unknown corpus format {fmt!r}: use jsonl, csv, text or spacy"
        )
    nlp = spacy.blank(lang)
    tokenizer: Any = nlp.tokenizer
    return [[t.text for t in doc if not t.is_space] for doc in tokenizer.pipe(texts)]


def corpus_fingerprint(token_lists: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256()
    for tokens in token_lists:
        digest.update("\x1f".join(tokens).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def split_heldout(
    n_docs: int, fraction: float, seed: int
) -> Tuple[List[int], List[int]]:
    """Seeded split of document indices into (train, held-out); held-out >= 1 doc."""
    order = numpy.random.default_rng([seed, 7919]).permutation(n_docs)
    n_heldout = min(n_docs - 1, max(1, int(round(fraction * n_docs))))
    return sorted(order[n_heldout:].tolist()), sorted(order[:n_heldout].tolist())


def build_vocab(
    token_lists: Sequence[Sequence[str]], size: int, min_count: int = 1
) -> List[str]:
    """bilm-tf's vocabulary: ``</S>``, ``<S>``, ``<UNK>``, then words by frequency.

    Ties are broken alphabetically, so the vocabulary is deterministic.
    """
    counts = Counter(word for tokens in token_lists for word in tokens)
    for special in SPECIAL_TOKENS:
        counts.pop(special, None)
    ranked = sorted(
        (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
    )
    return list(SPECIAL_TOKENS) + ranked[: size - len(SPECIAL_TOKENS)]


def read_vocab(path: PathLike) -> List[str]:
    words = Path(path).read_text(encoding="utf-8").split("\n")
    if words and words[-1] == "":
        words.pop()
    if tuple(words[:3]) != SPECIAL_TOKENS:
        raise DataError(
            path, f"a vocabulary must start with {', '.join(SPECIAL_TOKENS)}"
        )
    return words


def write_vocab(words: Sequence[str], path: PathLike) -> None:
    with atomic_open(path, "w") as f:
        for word in words:
            f.write(word + "\n")


@dataclass
class LmWindows:
    """Training sequences: token windows and their target ids."""

    tokens: List[Sequence[str]]
    targets: List[numpy.ndarray]

    @property
    def n_tokens(self) -> int:
        return sum(len(t) for t in self.tokens)

    @classmethod
    def build(
        cls, token_lists: Sequence[Sequence[str]], index: Dict[str, int], window: int
    ) -> "LmWindows":
        tokens: List[Sequence[str]] = []
        targets: List[numpy.ndarray] = []
        for doc in token_lists:
            ids = numpy.fromiter(
                (index.get(w, UNK_ID) for w in doc), dtype=numpy.int64, count=len(doc)
            )
            for start in range(0, len(doc), window):
                tokens.append(doc[start : start + window])
                targets.append(ids[start : start + window])
        return cls(tokens, targets)


def epoch_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    max_tokens: Optional[int] = None,
) -> List[List[int]]:
    """The batches of one epoch: a seeded shuffle (cut at ``max_tokens`` tokens),
    sorted by length within pools of 50 batches (less padding), batches shuffled."""
    rng = numpy.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    if max_tokens is not None:
        kept, total = [], 0
        for i in order:
            if total >= max_tokens:
                break
            kept.append(i)
            total += lengths[i]
        order = kept
    pool = 50 * batch_size
    batches: List[List[int]] = []
    for p in range(0, len(order), pool):
        chunk = sorted(order[p : p + pool], key=lambda i: -lengths[i])
        batches.extend(
            chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)
        )
    return [batches[i] for i in rng.permutation(len(batches)).tolist()]


def unigram_perplexity(train: LmWindows, heldout: LmWindows, vocab_size: int) -> float:
    """Held-out perplexity of an add-one unigram model over the same vocabulary."""
    counts = numpy.bincount(
        numpy.concatenate(train.targets)
        if train.targets
        else numpy.zeros(0, numpy.int64),
        minlength=vocab_size,
    ).astype(numpy.float64)
    probs = (counts + 1.0) / (counts.sum() + vocab_size)
    targets = numpy.concatenate(heldout.targets)
    return float(numpy.exp(-numpy.log(probs[targets]).mean()))


# ---------------------------------------------------------------- training


class _Batcher:
    """Turn window indices into (char ids, lengths, flat targets) tensors."""

    def __init__(self, windows: LmWindows, device: Any) -> None:
        from spacy_kd.elmo.char_ids import CharIdCache

        self.windows = windows
        self.device = device
        self.cache = CharIdCache()

    def __call__(self, indices: Sequence[int]):
        import torch

        from spacy_kd.elmo.char_ids import batch_to_char_ids

        tokens = [self.windows.tokens[i] for i in indices]
        ids = torch.from_numpy(batch_to_char_ids(tokens, cache=self.cache))
        lengths = torch.tensor([len(t) for t in tokens], dtype=torch.long)
        targets = torch.from_numpy(
            numpy.concatenate([self.windows.targets[i] for i in indices])
        )
        return ids.to(self.device), lengths.to(self.device), targets.to(self.device)


def evaluate_heldout(lm, batcher: _Batcher, batch_size: int) -> Tuple[float, float]:
    """Perplexity of the forward and of the backward LM on every held-out token."""
    import torch

    was_training = lm.training
    lm.eval()
    nll_f = nll_b = 0.0
    n = 0
    order = sorted(
        range(len(batcher.windows.tokens)),
        key=lambda i: -len(batcher.windows.tokens[i]),
    )
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            ids, lengths, targets = batcher(order[b : b + batch_size])
            lp_f, lp_b = lm.log_probs(ids, lengths, targets)
            nll_f -= float(lp_f.double().sum())
            nll_b -= float(lp_b.double().sum())
            n += int(targets.shape[0])
    lm.train(was_training)
    return math.exp(nll_f / n), math.exp(nll_b / n)


def _save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path) -> Dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise DataError(path, f"not a readable pretraining checkpoint: {e}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(path, "not a spacy_kd pretrain-elmo checkpoint")
    return state


def _resume_settings(
    stored: Dict[str, Any], preset: str, overrides: Dict[str, Any], path: Path
) -> PretrainSettings:
    if stored["preset"] != preset:
        raise DataError(
            path,
            f"the run used the preset {stored['preset']!r}, not {preset!r}: "
            f"resume with --preset {stored['preset']}",
        )
    values = dict(stored)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in RESUMABLE:
            values[key] = value
        elif _normalise(value) != _normalise(stored.get(key)):
            raise DataError(
                path,
                f"the run used {key}={stored.get(key)!r}; a resumed run cannot change it "
                f"to {value!r} (only {', '.join(RESUMABLE)} can change)",
            )
    return PretrainSettings(**values).validate()


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def pretrain_elmo(
    input_path: PathLike,
    output_dir: PathLike,
    *,
    preset: str = DEFAULT_PRESET,
    overrides: Optional[Dict[str, Any]] = None,
    resume: bool = False,
    fmt: Optional[str] = None,
    lang: str = "en",
    device: str = "cpu",
    threads: Optional[int] = 1,
    show_progress: bool = True,
    log: Callable[[str], None] = print,
    stop_after_steps: Optional[int] = None,
) -> PretrainSummary:
    """Pretrain an ELMo biLM on a raw-text corpus; see the module docstring.

    Writes into ``output_dir``: ``options.json`` + ``weights.hdf5`` (allennlp's
    layout, loadable by ``spacy-kd.ElmoTok2Vec.v1``), ``vocab.txt``,
    ``metrics.json`` (settings, corpus statistics, per-epoch perplexities) and
    ``checkpoint.pt``.

    overrides: settings that replace the preset's (see :class:`PretrainSettings`).
    resume: continue from ``output_dir/checkpoint.pt``; without it an existing
        checkpoint is an error (so a finished run is never overwritten by mistake).
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
            resume=resume, fmt=fmt, lang=lang, device=device, show_progress=show_progress,
            log=log, stop_after_steps=stop_after_steps,
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
    fmt: Optional[str],
    lang: str,
    device: str,
    show_progress: bool,
    log: Callable[[str], None],
    stop_after_steps: Optional[int],
) -> PretrainSummary:
    import torch

    from spacy_kd.elmo.file_format import save_bilm
    from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
    from spacy_kd.elmo.pytorch.language_model import ElmoLanguageModel

    overrides = dict(overrides or {})
    checkpoint_path = output_dir / CHECKPOINT_FILE
    state: Optional[Dict[str, Any]] = None
    if resume:
        if not checkpoint_path.is_file():
            raise DataError(checkpoint_path, "no checkpoint to resume from")
        state = _load_checkpoint(checkpoint_path)
        settings = _resume_settings(
            state["settings"], preset, overrides, checkpoint_path
        )
    else:
        if checkpoint_path.exists():
            raise DataError(
                output_dir,
                "already holds a pretraining run (checkpoint.pt): pass --resume to "
                "continue it, or choose another output directory",
            )
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
            f"Resuming from epoch {start_epoch + 1}, batch {start_batch}, step {global_step}"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    write_vocab(vocab, output_dir / VOCAB_FILE)
    log(
        f"{len(token_lists)} docs: {len(train_docs)} train ({summary.n_train_tokens} tokens), "
        f"{len(heldout_docs)} held out ({summary.n_heldout_tokens} tokens evaluated); "
        f"vocabulary {len(vocab)} (train OOV {summary.train_oov_rate:.1%}); "
        f"unigram held-out perplexity {unigram:.1f}"
    )

    def checkpoint(epoch: int, batch: int, epoch_state: Dict[str, Any]) -> None:
        _save_checkpoint(
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
    batcher = _Batcher(train, torch_device)
    heldout_batcher = _Batcher(heldout, torch_device)
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
        progress = _progress(len(batches), first, epoch, settings.epochs, show_progress)
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
            progress.set_postfix(
                loss=f"{epoch_state['loss_sum'] / epoch_state['tokens']:.3f}",
                tok_s=f"{epoch_state['tokens'] / max(epoch_state['seconds'], 1e-9):.0f}",
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
            f"Epoch {epoch + 1}/{settings.epochs}: train loss {metrics.train_loss:.3f}, "
            f"held-out perplexity {metrics.heldout_ppl:.1f} (forward {ppl_f:.1f}, "
            f"backward {ppl_b:.1f}; unigram {unigram:.1f}), "
            f"{metrics.train_tokens_per_second:.0f} train tokens/s"
        )
        if stop_after_steps is not None and steps_this_call >= stop_after_steps:
            return summary
    return summary


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, initial: int, epoch: int, epochs: int, show: bool):
    if not show:
        return _NoProgress()
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"epoch {epoch + 1}/{epochs}",
        unit="batch",
        leave=False,
        dynamic_ncols=True,
    )
