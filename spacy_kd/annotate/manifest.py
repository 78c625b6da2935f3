"""An annotate output folder: its shard files and the manifest of the run.

``manifest.json`` records the teachers, the weights, the input and the settings of a
run, each teacher and the input by a SHA-256 of its content too: a teacher retrained
in place, or an input edited to the same size, is another run. An output folder whose
manifest differs is refused, so shards of different runs never mix, unless
``--overwrite`` (then the other run's files are removed first); one whose manifest is
the same is resumed, with or without ``--overwrite``. A run that wrote no shard yet
left nothing to protect: its manifest is replaced.
"""

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Union

from spacy_kd.annotate.teachers import Teacher
from spacy_kd.errors import DataError
from spacy_kd.util import OVERWRITE_FLAG, content_sha256

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
SHARD_PATTERN = "shard-{:05d}.spacy"
DEV_FIT = "dev_fit.json"  # the temperatures and weights fitted on dev
DEV_SCORES = "dev_scores.json"  # the teachers' probabilities on dev, for the report
SHARD_GLOB = "shard-*.spacy"
# every name an annotate run writes in its output folder (a shard's stats: .json)
RUN_GLOBS = (MANIFEST, SUMMARY, DEV_FIT, DEV_SCORES, SHARD_GLOB, "shard-*.json")


def iter_shards(output_dir: Union[str, Path]) -> List[Path]:
    """The shard files of an annotate output folder, in order."""
    return sorted(Path(output_dir).glob(SHARD_GLOB))


def run_files(output_dir: Union[str, Path]) -> List[Path]:
    """The files of an annotate run in ``output_dir``: manifest, summary, shards and
    their statistics (those that exist)."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    return sorted({p for pattern in RUN_GLOBS for p in folder.glob(pattern)})


def is_run_file(path: Union[str, Path], output_dir: Union[str, Path]) -> bool:
    """Whether a run in ``output_dir`` may write (or remove) ``path``."""
    path, folder = Path(path).resolve(), Path(output_dir).resolve()
    return path.parent == folder and any(path.match(g) for g in RUN_GLOBS)


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
                "sha256": content_sha256(t.path),
            }
        )
    return {
        "teachers": teacher_info,
        "weights": [round(w, 10) for w in weights],
        "input": {
            "path": str(input_path.resolve()),
            "size": stat.st_size,
            "sha256": content_sha256(input_path),
        },
        **settings,
    }


def check_manifest(
    output_dir: Path, manifest: Dict[str, Any], overwrite: bool = False
) -> bool:
    """True if shards of this very run may be resumed; raise if another run's are
    there, or (``overwrite``) remove that run's files and return False."""
    path = output_dir / MANIFEST
    shards = iter_shards(output_dir)
    if not path.exists():
        if shards and not overwrite:
            raise DataError(
                output_dir,
                f"holds {len(shards)} shards but no {MANIFEST}: not an annotate output "
                f"folder of this run; choose another output folder, or pass "
                f"{OVERWRITE_FLAG} to replace them",
            )
        if shards:
            _remove_run(output_dir)
        return False
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        if overwrite:
            _remove_run(output_dir)
            return False
        raise DataError(
            path, f"unreadable manifest: {e}; pass {OVERWRITE_FLAG} to replace the run"
        ) from None
    if old != manifest and (overwrite or not shards):
        _remove_run(output_dir)
        return False
    if old != manifest:
        changes = describe_changes(old, manifest)
        raise DataError(
            output_dir,
            f"holds {len(shards)} shard{'s' if len(shards) > 1 else ''} from a "
            f"different run ({changes}); "
            "nothing was overwritten: choose another output folder, or pass "
            f"{OVERWRITE_FLAG} to start over",
        )
    return True


def describe_changes(old: Dict[str, Any], new: Dict[str, Any]) -> str:
    """What differs between two manifests, in words: which teacher's files, the
    input's content, or which settings."""
    changes = []
    old_teachers, new_teachers = old.get("teachers") or [], new.get("teachers") or []
    if [t.get("name") for t in old_teachers] != [t.get("name") for t in new_teachers]:
        changes.append("the teachers")
    else:
        for before, after in zip(old_teachers, new_teachers):
            fields = sorted(
                k for k in set(before) | set(after) if before.get(k) != after.get(k)
            )
            if fields == ["sha256"]:
                changes.append(
                    f"teacher {after.get('name')}'s files changed (retrained in place?)"
                )
            elif fields:
                changes.append(f"teacher {after.get('name')}: {', '.join(fields)}")
    before, after = old.get("input") or {}, new.get("input") or {}
    if before.get("path") != after.get("path"):
        changes.append(f"input {before.get('path')} -> {after.get('path')}")
    elif before != after:
        changes.append(f"the content of the input {after.get('path')} changed")
    other = sorted(
        k for k in set(old) | set(new)
        if k not in ("teachers", "input") and old.get(k) != new.get(k)
    )  # fmt: skip
    if other:
        changes.append(f"settings: {', '.join(other)}")
    return "; ".join(changes) or "the manifest"


def _remove_run(output_dir: Path) -> None:
    """Remove another run's files (and only those) from ``output_dir``."""
    for path in run_files(output_dir):
        path.unlink()
