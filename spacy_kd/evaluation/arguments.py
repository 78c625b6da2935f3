"""The arguments of ``evaluate``, checked before anything is loaded: the pipelines'
names, the reference pipeline and the counts."""

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from spacy_kd.errors import DataError

PathLike = Union[str, Path]


def pipeline_names(paths: Sequence[Path]) -> List[str]:
    """Directory names; names that clash get parent folders until they are unique."""
    parts = [p.resolve().parts for p in paths]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        clashing = [
            i
            for i, name in enumerate(names)
            if names.count(name) > 1 and depth[i] < len(parts[i])
        ]
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1


def resolve_names(paths: List[Path], names: Optional[Sequence[str]]) -> List[str]:
    seen: Dict[Path, Path] = {}
    for p in paths:
        key = p.resolve()
        if key in seen:
            raise DataError(
                p, f"the same pipeline is given twice (as {seen[key]} and {p})"
            )
        seen[key] = p
    if names is None:
        return pipeline_names(paths)
    names = [n.strip() for n in names]
    if len(names) != len(paths):
        raise ValueError(f"{len(names)} names given for {len(paths)} pipelines")
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"names must be unique and non-empty, got {names}")
    return names


def resolve_reference(
    reference: Optional[PathLike],
    paths: List[Path],
    names: List[str],
    auto_names: bool,
) -> Optional[int]:
    """Index of the reference pipeline, a name or a directory.

    A directory that is not among ``paths`` is appended to ``paths`` and ``names``.
    """
    if reference is None:
        return None
    if str(reference) in names:
        return names.index(str(reference))
    ref_path = Path(reference)
    if not ref_path.exists():
        raise DataError(
            ref_path,
            "the reference is neither the name of one of the pipelines "
            f"({', '.join(names)}) nor a pipeline directory",
        )
    for i, p in enumerate(paths):
        if p.resolve() == ref_path.resolve():
            return i
    paths.append(ref_path)
    if auto_names:
        names[:] = pipeline_names(paths)
    else:
        name = pipeline_names([ref_path])[0]
        if name in names:
            raise DataError(
                ref_path,
                f"the reference's name {name!r} clashes with --names; list the "
                "reference among the pipelines (with a name) and pass that name",
            )
        names.append(name)
    return len(paths) - 1


def check_counts(
    *, sample: int, batch_size: int, n_speed_docs: int, n_threads: int, n_warmup: int
) -> None:
    """Counts that mean nothing when negative (or zero) are errors, not defaults."""
    if sample < 0:
        raise DataError(None, f"--sample must be >= 0 (0: all docs), got {sample}")
    if n_warmup < 0:
        raise DataError(None, f"--n-warmup must be >= 0, got {n_warmup}")
    for option, value in (
        ("--batch-size", batch_size),
        ("--n-speed-docs", n_speed_docs),
        ("--n-threads", n_threads),
    ):
        if value < 1:
            raise DataError(None, f"{option} must be at least 1, got {value}")
