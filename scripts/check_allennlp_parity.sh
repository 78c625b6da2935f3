#!/usr/bin/env bash
# Check spacy_kd's ELMo against allennlp 2.10.1 on random weights (not part of CI).
#
# allennlp cannot be installed next to spaCy 3.8, so this builds a throwaway venv
# outside the repo (PARITY_DIR, default /tmp/spacy_kd_allennlp_parity) holding
# allennlp and the few packages its ELMo module imports, all with --no-deps where
# their pins clash. torch, numpy, h5py and spacy_kd come from the project's
# Python (PYTHON, default .venv/bin/python, else python) through a .pth file, so
# no second torch is downloaded. torchvision cannot be installed: an empty
# stand-in module satisfies allennlp's import.
#
# Usage: scripts/check_allennlp_parity.sh [--tol 1e-5] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
PARITY_DIR="${PARITY_DIR:-/tmp/spacy_kd_allennlp_parity}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python; fi
fi
PROJECT_SITE="$("$PYTHON" -c 'import site; print(site.getsitepackages()[0])')"
"$PYTHON" -c 'import torch, h5py, spacy_kd' || {
    echo "✘ $PYTHON cannot import torch, h5py and spacy_kd: set PYTHON to the project venv" >&2
    exit 1
}
VENV="$PARITY_DIR/venv"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -c 'import sys; print(sys.base_prefix)' >/dev/null
    BASE_PY="$("$PYTHON" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')"
    "$BASE_PY" -m venv "$VENV"
fi
SITE="$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')"
# the project's packages (and their own .pth files) after the venv's own
printf 'import site; site.addsitedir(%s)\n' "'$PROJECT_SITE'" > "$SITE/_spacy_kd_project.pth"
printf 'import sys; sys.path.insert(0, %s)\n' "'$REPO'" > "$SITE/_spacy_kd_repo.pth"
mkdir -p "$PARITY_DIR/stub/torchvision"
echo '"""Empty stand-in: torchvision cannot be installed next to this torch."""' \
    > "$PARITY_DIR/stub/torchvision/__init__.py"
PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
if ! "$VENV/bin/python" -c 'import allennlp' 2>/dev/null; then
    "${PIP[@]}" --no-deps allennlp==2.10.1 cached-path==1.1.6 fairscale==0.4.13
    "${PIP[@]}" "google-cloud-storage<3" boto3 lmdb dill base58 more-itertools h5py
fi
PYTHONPATH="$PARITY_DIR/stub" PYTHONWARNINGS=ignore \
    "$VENV/bin/python" "$REPO/scripts/allennlp_parity.py" "$@"
