"""An annotate output folder: its shard files and the manifest of the run.

``manifest.json`` records the teachers, the weights, the input and the settings of a
run. An output folder whose manifest differs is refused, so shards of different runs
never mix; one whose manifest is the same is resumed.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Union

from spacy_kd.annotate.teachers import Teacher
from spacy_kd.errors import DataError

MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.spacy"
SHARD_GLOB = "shard-*.spacy"


def iter_shards(output_dir: Union[str, Path]) -> List[Path]:
    """The shard files of an annotate output folder, in order."""
    return sorted(Path(output_dir).glob(SHARD_GLOB))


def make_manifest(
    teachers: List[Teacher],
    weights: List[float],
    input_path: Path,
    settings: Dict[str, Any],
) -> Dict[str, Any]:
    """The manifest of a run: teachers, weights, input file and ``settings``."""
    stat = input_path.stat()
    teacher_info = []
    for t in teachers:
        meta = t.nlp.meta
        lang, name, version = meta.get("lang"), meta.get("name"), meta.get("version")
        teacher_info.append(
            {
                "name": t.name,
                "path": str(Path(t.path).resolve()),
                "pipeline": f"{lang}_{name}-{version}",
                "labels_sha1": hashlib.sha1(
                    "\n".join(sorted(t.labels)).encode()
                ).hexdigest(),
            }
        )
    return {
        "teachers": teacher_info,
        "weights": [round(w, 10) for w in weights],
        "input": {"path": str(input_path.resolve()), "size": stat.st_size},
        **settings,
    }


def check_manifest(output_dir: Path, manifest: Dict[str, Any]) -> bool:
    """True if shards of this very run may be resumed; raise if another run's are
    there."""
    path = output_dir / MANIFEST
    shards = iter_shards(output_dir)
    if not path.exists():
        if shards:
            raise DataError(
                output_dir,
                f"holds {len(shards)} shards but no {MANIFEST}: not an annotate output "
                "folder of this run; choose another output folder",
            )
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(path, f"unreadable manifest: {e}") from None
    if old != manifest:
        diff = sorted(
            k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k)
        )
        raise DataError(
            output_dir,
            f"holds shards from a different run (differs in: {', '.join(diff)}); "
            "nothing was overwritten: choose another output folder or delete it",
        )
    return True
