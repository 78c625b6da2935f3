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


def rare_class_warnings(
    parts: Dict[str, List[Dict[str, float]]], budget: str = "labelled"
) -> List[str]:
    """A warning for every class that the ``budget`` part of a split lacks.

    parts: the ``doc.cats`` of each part's docs, by part name ("labelled", "dev",
        "pool"). A class counts a doc when its value is >= 0.5. A class that a
        stratified split leaves out of the labelled budget (a class with one
        example, say) silently never reaches the student as a gold example; the
        warning names the class and where its examples went.
    """
    labels: Dict[str, None] = {}
    counts: Dict[str, Dict[str, int]] = {}
    for name, cats_list in parts.items():
        for cats in cats_list:
            for label, value in cats.items():
                labels.setdefault(label, None)
                if value >= 0.5:
                    per_part = counts.setdefault(label, {})
                    per_part[name] = per_part.get(name, 0) + 1
    warnings = []
    for label in labels:
        per_part = counts.get(label, {})
        total = sum(per_part.values())
        if per_part.get(budget, 0):
            continue
        if not total:
            warnings.append(f"class {label!r} has no example in the corpus")
            continue
        where = ", ".join(f"{n} in {part}" for part, n in per_part.items())
        warnings.append(
            f"class {label!r} has {total} example{'s' if total > 1 else ''} in the "
            f"corpus and none in {budget} ({where}): the student never sees a gold "
            "example of it"
        )
    return warnings
