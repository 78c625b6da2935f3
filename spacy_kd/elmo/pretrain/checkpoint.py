"""The pretraining checkpoint: written atomically, read back with clear errors."""

from pathlib import Path
from typing import Any, Dict

from spacy_kd.errors import DataError
from spacy_kd.util import atomic_path

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, state: Dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save``; a crash leaves the old checkpoint."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> Dict[str, Any]:
    """The state that :func:`save_checkpoint` wrote, or a :class:`DataError`."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise DataError(path, f"not a readable pretraining checkpoint: {e}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise DataError(path, "not a spacy_kd pretrain-elmo checkpoint")
    return state
