#!/usr/bin/env bash
# Set up the venv with the dev extras, lint, and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh dev
export PATH="$PWD/${VENV:-.venv}/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
ruff check spacy_kd tests scripts
python -m pytest tests -q "$@"
