#!/usr/bin/env bash
# The main job: set up the venv, then run the whole spaCy project workflow `all`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export PATH="$PWD/${VENV:-.venv}/bin:$PATH" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
python -m spacy project run "${1:-all}" .
