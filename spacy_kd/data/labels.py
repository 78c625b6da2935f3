"""The label schema of a corpus: its labels and whether they are exclusive."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from spacy_kd.errors import DataError
from spacy_kd.util import write_json_atomic


@dataclass(frozen=True)
class LabelSchema:
    """Labels in a fixed order, and whether a doc may have several (multi-label).

    ``multi_label`` is None for a bare label list whose kind is not stated.
    """

    labels: List[str]
    multi_label: Optional[bool]

    def to_dict(self) -> Dict[str, Any]:
        return {"labels": list(self.labels), "multi_label": self.multi_label}

    def to_disk(self, path: Union[str, Path]) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def from_disk(cls, path: Union[str, Path]) -> "LabelSchema":
        """Read a ``labels.json`` as written by ``convert`` (or a plain JSON list)."""
        path = Path(path)
        if not path.exists():
            raise DataError(path, "label file not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DataError(path, f"not a valid JSON label file: {e}") from None
        if isinstance(data, list):
            data = {"labels": data, "multi_label": None}
        if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
            raise DataError(path, "expected an object with a 'labels' list")
        labels = data["labels"]
        if not labels or not all(isinstance(x, str) and x for x in labels):
            raise DataError(path, "'labels' must be a non-empty list of strings")
        if len(set(labels)) != len(labels):
            raise DataError(path, "'labels' holds duplicates")
        multi = data.get("multi_label")
        if multi is not None and not isinstance(multi, bool):
            raise DataError(path, "'multi_label' must be true or false")
        return cls(labels=labels, multi_label=multi)
