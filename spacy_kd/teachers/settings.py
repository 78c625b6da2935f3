"""A trained BERT teacher with other inference settings: a copy whose config says so.

The settings of ``spacy-kd.FrozenTransformerFeatures.v2`` (``window_batch_size``,
``quantize``) change how the frozen encoder is run, not its weights, so
``switch_inference`` copies a teacher pipeline and rewrites only its config
(a ``.v1`` block becomes ``.v2``, which is ``.v1`` plus the two settings). Whatever
loads the copy (``spacy.load``, ``spacy_kd evaluate``, ``annotate``) runs it that way.
"""

import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from thinc.api import Config

from spacy_kd.classifier import check_pipeline_dir, load_pipeline
from spacy_kd.errors import DataError
from spacy_kd.teachers.inference import check_inference_settings
from spacy_kd.util import _same_file, atomic_folder, check_writable

FEATURES = (
    "spacy-kd.FrozenTransformerFeatures.v1",
    "spacy-kd.FrozenTransformerFeatures.v2",
)
FEATURES_V2 = FEATURES[1]


def feature_blocks(config: Dict[str, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """Every ``FrozenTransformerFeatures`` block of a config: (its dotted path, it)."""
    found: List[Tuple[str, Dict[str, Any]]] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("@architectures") in FEATURES:
                found.append((path, node))
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))

    walk(config, "")
    return found


def switch_inference(
    teacher_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    window_batch_size: int,
    quantize: Optional[str],
    overwrite: bool = False,
) -> List[str]:
    """Copy the teacher pipeline ``teacher_dir`` to ``output_dir`` with its
    transformer features run with ``window_batch_size`` and ``quantize`` (see
    ``spacy_kd.teachers.inference``). Returns the dotted paths of the blocks set.
    The copy is loaded once before it is put in place, and appears whole."""
    source = check_pipeline_dir(teacher_dir)
    out = Path(output_dir)
    check_inference_settings(window_batch_size, quantize)
    check_writable(out, folder=True)
    inside = source.resolve() in out.resolve().parents
    if inside or (out.exists() and _same_file(out, source)):
        raise DataError(
            out, f"is the teacher {source} or lies inside it; give a new folder"
        )
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError(
            out, "already exists and is not empty; pass --overwrite to replace it "
            "(nothing was written)",
        )  # fmt: skip
    try:
        config = Config().from_disk(source / "config.cfg", interpolate=False)
    except Exception as e:  # confection and configparser raise many kinds
        raise DataError(
            source / "config.cfg", f"not a readable spaCy config: {e}"
        ) from None
    blocks = feature_blocks(config)
    if not blocks:
        raise DataError(
            source / "config.cfg",
            "has no spacy-kd.FrozenTransformerFeatures block: only a BERT teacher of "
            "this project (configs/teacher_bert.cfg) has these inference settings",
        )
    for _path, block in blocks:
        block["@architectures"] = FEATURES_V2
        block["window_batch_size"] = int(window_batch_size)
        block["quantize"] = quantize
    with atomic_folder(out) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        config.to_disk(tmp / "config.cfg", interpolate=False)
        load_pipeline(tmp)  # refuse a copy that would not load
    return [path for path, _block in blocks]
