#!/usr/bin/env bash
# Set up the venv with the dev, ray and int8 extras, lint, and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh dev,ray,int8
export PATH="$PWD/${VENV:-.venv}/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# the Ray and int8 tests fail, rather than skip, if their extra is missing
export SPACY_KD_REQUIRE_RAY=1 SPACY_KD_REQUIRE_INT8=1
LINTED="spacy_kd tests scripts benchmarks setup.py"
ruff format --check $LINTED
ruff check $LINTED  # line length (E501) included: pyproject.toml
# one worker per core, each taking whole test files (module fixtures are built once);
# conftest.py hands out the slowest files first
python -m pytest tests -q -n auto --dist loadfile --no-loadscope-reorder "$@"
