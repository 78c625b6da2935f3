"""A Python path without some installed packages: a production machine in a folder.

``hidden_site(folder, hidden)`` fills ``folder`` with links to every entry of this
interpreter's site-packages except the ``hidden`` packages (their code and their
``.dist-info``, so their entry points are gone too) and the ``.pth`` files, and
links spacy_kd's own package there. ``isolated_env`` then starts ``python -S`` with
that folder as its only site: the speed worker of a pipeline that needs no torch
runs where torch, transformers and spacy-transformers cannot even be found, as on a
machine with only spaCy (and spacy_kd) installed. The technique is the one of
tests/distillation/test_production.py.
"""

import os
import re
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Union

import spacy_kd
from spacy_kd.util import worker_env

PathLike = Union[str, Path]
SITE_NAMES = ("site-packages", "dist-packages")


def site_dirs() -> List[Path]:
    """This interpreter's site-packages folders, in ``sys.path`` order."""
    found: List[Path] = []
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path.name in SITE_NAMES and path.is_dir() and path not in found:
            found.append(path)
    return found


def distribution_of(entry_name: str) -> str:
    """The import or distribution name a site-packages entry belongs to
    (``torch-2.3.0.dist-info`` -> ``torch``, ``spacy_transformers`` ->
    ``spacy_transformers``)."""
    return re.split(r"[-.]", entry_name)[0].lower().replace("-", "_")


def _pth_dirs(site: Path, hidden: Sequence[str]) -> List[Path]:
    """The folders that ``site``'s ``.pth`` files add to the path (their ``import``
    lines are not run), leaving out those that hold a hidden package."""
    dirs: List[Path] = []
    for pth in sorted(site.glob("*.pth")):
        try:
            lines = pth.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            path = (site / line).resolve()
            if not path.is_dir() or path in dirs:
                continue
            if any(distribution_of(p.name) in hidden for p in path.iterdir()):
                continue
            dirs.append(path)
    return dirs


def hidden_site(folder: PathLike, hidden: Iterable[str]) -> List[Path]:
    """Fill ``folder`` with links to the site-packages entries that are not
    ``hidden`` (spacy_kd's package included); return the path entries a subprocess
    needs: ``folder`` and the plain folders of the ``.pth`` files."""
    hidden = [h.lower().replace("-", "_") for h in hidden]
    farm = Path(folder)
    farm.mkdir(parents=True, exist_ok=True)
    extra: List[Path] = []
    for site in site_dirs():
        for entry in site.iterdir():
            if entry.suffix == ".pth" or distribution_of(entry.name) in hidden:
                continue
            if entry.name.startswith("__editable__"):
                continue  # an editable install's finder: its package is linked below
            link = farm / entry.name
            if not os.path.lexists(link):
                os.symlink(entry, link)
        extra += [d for d in _pth_dirs(site, hidden) if d not in extra]
    own = Path(spacy_kd.__file__).resolve().parent
    if not os.path.lexists(farm / own.name):
        os.symlink(own, farm / own.name)
    return [farm, *extra]


def isolated_env(n_threads: int, path: Sequence[PathLike]) -> Dict[str, str]:
    """The environment of a worker started with ``python -S``: that of
    :func:`spacy_kd.util.worker_env`, with ``path`` as its ``PYTHONPATH`` (followed
    by the caller's own entries, less the site-packages it replaces)."""
    env = worker_env(n_threads)
    sites = {str(p) for p in site_dirs()}
    root = str(Path(spacy_kd.__file__).resolve().parent.parent)
    theirs = [
        p
        for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if p and p != root and str(Path(p).resolve()) not in sites
    ]
    env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in path), *theirs])
    return env
