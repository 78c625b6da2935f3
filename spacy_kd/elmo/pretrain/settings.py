"""Pretraining settings: size presets, overrides, and what a resumed run may change."""

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Dict, List, Optional

from spacy_kd.errors import DataError

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
    """Every size and training setting of a pretraining run: a preset + overrides."""

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


def resume_settings(
    stored: Dict[str, Any], preset: str, overrides: Dict[str, Any], path: Path
) -> PretrainSettings:
    """A checkpoint's ``stored`` settings with the ``overrides`` a resume may apply.

    path: the checkpoint, named in the error when ``preset`` or a setting outside
        ``RESUMABLE`` differs from the run's.
    """
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
                f"the run used {key}={stored.get(key)!r}; a resumed run cannot "
                f"change it to {value!r} (only {', '.join(RESUMABLE)} can change)",
            )
    return PretrainSettings(**values).validate()


def _normalise(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
