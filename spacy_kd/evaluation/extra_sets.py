"""Extra (e.g. cross-domain) test sets of a report, and the label maps that rename
their labels to the models'.

A label map is a JSON object from the set's label names to the models' (``{"atheism":
"alt.atheism", "forsale": null}``): a label it maps to ``null`` (or ``""``) maps to
nothing and is dropped from every doc, and a doc left without any of its positive
labels is dropped (and counted); several labels may map to one (the doc keeps the
highest value). A label the map does not name keeps its name, and must then be one
of the models' labels.
"""

import json
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

from spacy_kd.errors import DataError
from spacy_kd.evaluation.gold import GoldSet, load_gold

PathLike = Union[str, Path]
LabelMap = Dict[str, Optional[str]]


def read_label_map(path: PathLike) -> LabelMap:
    """A label map from a JSON file: label name -> a model's label name, or null."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "label map not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(path, f"not a JSON label map: {e}") from None
    if not isinstance(data, dict):
        raise DataError(
            path, "a label map is a JSON object: {label: model label or null}"
        )
    bad = {k: v for k, v in data.items() if v is not None and not isinstance(v, str)}
    if bad:
        raise DataError(
            path, f"a label maps to a label name or null, not {_preview(bad)}"
        )
    return {k: (v or None) for k, v in data.items()}


def model_labels(models: Sequence[PathLike]) -> Optional[List[str]]:
    """Every label the models' meta.json lists (None where one cannot be read)."""
    labels: Dict[str, None] = {}
    for model in models:
        try:
            meta = json.loads((Path(model) / "meta.json").read_text(encoding="utf-8"))
            for names in meta["labels"].values():
                labels.update(dict.fromkeys(names))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
    return list(labels)


def map_labels(
    gold: GoldSet,
    label_map: Optional[LabelMap],
    known: Optional[Sequence[str]],
    *,
    name: str,
    map_path: Optional[PathLike] = None,
) -> GoldSet:
    """``gold`` with its labels renamed by ``label_map`` and the docs whose labels
    all map to nothing dropped; ``info`` records the map and the dropped docs.

    known: the models' labels (None: not checked here). A label of the data that
    neither the map nor the models know is an error naming it.
    """
    mapping = dict(label_map or {})
    if known is not None:
        models = set(known)
        unknown = [x for x in gold.labels if x not in mapping and x not in models]
        if unknown:
            if map_path:
                problem = f"neither the models' labels nor in the label map {map_path}"
                hint = ""
            else:
                problem = "not the models' labels"
                hint = f"; map them with --label-map {name}=MAPPING.json"
            raise DataError(
                gold.path,
                f"test set {name}: labels {problem}: {_preview(unknown)}{hint}",
            )
        wrong = sorted({t for t in mapping.values() if t and t not in models})
        if wrong:
            raise DataError(
                map_path,
                f"maps labels of test set {name} to labels the models lack: "
                f"{_preview(wrong)}",
            )
    texts, cats, where = [], [], []
    n_dropped = 0
    for text, doc_cats, at in zip(gold.texts, gold.cats, gold.where):
        renamed: Dict[str, float] = {}
        for label, value in doc_cats.items():
            target = mapping.get(label, label)
            if target:
                renamed[target] = max(value, renamed.get(target, value))
        had = any(v > 0 for v in doc_cats.values())
        if had and not any(v > 0 for v in renamed.values()):
            n_dropped += 1
            continue
        texts.append(text)
        cats.append(renamed)
        where.append(at)
    if not texts:
        raise DataError(
            gold.path,
            f"test set {name}: no doc is left once its labels are mapped "
            f"({n_dropped} docs whose labels map to nothing)",
        )
    return GoldSet(
        path=gold.path,
        texts=texts,
        cats=cats,
        labels=list(dict.fromkeys(x for c in cats for x in c)),
        multi_label=gold.multi_label,
        where=where,
        n_total=gold.n_total,
        info={
            **gold.info,
            "label_map": None if map_path is None else str(map_path),
            "n_dropped": n_dropped,
            "labels_dropped": sorted(k for k, v in mapping.items() if not v),
        },
    )


def load_extra_sets(
    sets: Mapping[str, PathLike],
    label_maps: Mapping[str, PathLike],
    models: Sequence[PathLike],
    *,
    sample: int = 0,
    seed: int = 0,
) -> Dict[str, GoldSet]:
    """Read every extra test set (``sample``: a seeded sample of each), map its
    labels, and check them against the ``models``' before anything is scored."""
    stray = sorted(set(label_maps) - set(sets))
    if stray:
        raise DataError(
            None,
            f"--label-map for {', '.join(stray)}, which no --extra-test names "
            f"(extra test sets: {', '.join(sets) or 'none'})",
        )
    known = model_labels(models)
    out: Dict[str, GoldSet] = {}
    for name, path in sets.items():
        gold = load_gold(path, sample=sample, seed=seed)
        map_path = label_maps.get(name)
        mapping = None if map_path is None else read_label_map(map_path)
        out[name] = map_labels(gold, mapping, known, name=name, map_path=map_path)
    return out


def _preview(items, n: int = 20) -> str:
    items = list(items.items()) if isinstance(items, dict) else list(items)
    shown = ", ".join(str(x) for x in items[:n])
    return f"[{shown}{', ...' if len(items) > n else ''}]"
