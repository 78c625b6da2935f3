"""Shared by every package: atomic file writes, numerical constants, the sigmoid,
the environment of worker subprocesses."""

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Dict, Iterator, List, Union

import srsly
from thinc.api import get_array_module
from thinc.types import FloatsXd

# How far probabilities are clipped from 0 (and 1) before a log or a logit.
EPS = 1e-7
# How far from 1 the values of an exclusive row may sum: probabilities that teachers
# write in float32 drift from 1 by rounding.
SUM_TOLERANCE = 1e-3


def sigmoid(z: FloatsXd) -> FloatsXd:
    """The logistic function, on numpy or cupy arrays (as tanh: no overflow)."""
    xp = get_array_module(z)
    return 0.5 * (1.0 + xp.tanh(0.5 * z))


@contextlib.contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    If the body raises, the temporary file is removed and ``path`` is left as it
    was, so a crash never leaves a half-written output behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: Union[str, Path], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` and rename it onto ``path`` on success."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


def write_bytes_atomic(path: Union[str, Path], data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_json_atomic(path: Union[str, Path], data) -> None:
    with atomic_open(path, "w") as f:
        f.write(srsly.json_dumps(data, indent=2) + "\n")


# the thread-count variables of the numeric libraries a pipeline may use
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def worker_env(n_threads: int) -> Dict[str, str]:
    """The environment for a subprocess (a speed worker, a ``spacy train``): ours,
    with every thread-count variable set to ``n_threads``."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(n_threads)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Let the subprocess import spacy_kd even when it is not installed (a checkout).
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (root, env.get("PYTHONPATH", "")) if p
    )
    return env


def python_command() -> List[str]:
    """This interpreter, with ``-B`` if this process writes no bytecode: the workflow
    runs with ``python -B`` so that no ``__pycache__`` appears in the package folders
    that project.yml hashes as deps, and its subprocesses must not write one either."""
    return [sys.executable, "-B"] if sys.flags.dont_write_bytecode else [sys.executable]
