"""Shared by every package: atomic file writes and the checks every command makes
on its outputs before writing, numerical constants, the sigmoid, the environment of
worker subprocesses."""

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Dict, Iterable, Iterator, List, Optional, Union

import srsly
from thinc.api import get_array_module
from thinc.types import FloatsXd

from spacy_kd.errors import DataError

PathLike = Union[str, Path]
# the one flag, in every command, that lets an output replace an existing file that
# differs from it
OVERWRITE_FLAG = "--overwrite"

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
        # mkstemp creates the file 0600: give it the mode a plain open() would
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_folder(path: Union[str, Path]) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success, replace ``path`` (a
    folder, if any) with it. If the body raises, the temporary folder is removed
    and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_open(path: Union[str, Path], mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` and rename it onto ``path`` on success."""
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as f:
            yield f


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where Linux lets us (its
    ``/proc/self/status``); elsewhere set and restored under a lock, through
    ``0o077`` so that a file another thread creates meanwhile is never too open."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def write_bytes_atomic(path: Union[str, Path], data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def json_text(data) -> str:
    """The text :func:`write_json_atomic` writes for ``data``."""
    return srsly.json_dumps(data, indent=2) + "\n"


def write_json_atomic(path: Union[str, Path], data) -> None:
    with atomic_open(path, "w") as f:
        f.write(json_text(data))


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: equal once resolved, or hard links."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_writable(path: PathLike, *, folder: bool = False) -> None:
    """Raise a DataError if ``path`` cannot be written as a file (``folder``: made
    as a folder): it is a folder (a file), or a parent of it is a file."""
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise DataError(path, "is a file, expected a folder for the outputs")
        if not folder and path.is_dir():
            raise DataError(path, "is a folder, expected a file to write")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(
                    path, f"cannot be written: {parent} is a file, not a folder"
                )
            break


def check_outputs(
    inputs: Iterable[Optional[PathLike]],
    outputs: Iterable[Optional[PathLike]],
    *,
    folders: Iterable[Optional[PathLike]] = (),
) -> None:
    """Refuse, before anything is written, a set of outputs that would lose data or
    fail half way: an output that is also an input (written over before, or while,
    it is read), two outputs that are one file, an output that is a folder or under a
    file, an output folder that is a file.

    inputs, outputs: the files a command reads and writes (None: not given); list
        each file an output folder will get, so an input in it is found.
    folders: the folders a command writes into.
    """
    ins = [Path(p) for p in inputs if p is not None]
    outs = [Path(p) for p in outputs if p is not None]
    for folder in folders:
        if folder is not None:
            check_writable(folder, folder=True)
    for i, out in enumerate(outs):
        check_writable(out)
        for source in ins:
            if _same_file(out, source):
                also = "" if str(source) == str(out) else f" ({source})"
                raise DataError(
                    out,
                    f"is an input of this command{also} and would be written over; "
                    "write the output elsewhere (nothing was written)",
                )
        for other in outs[:i]:
            if _same_file(out, other):
                also = "" if str(other) == str(out) else f" (as {other})"
                raise DataError(
                    out,
                    f"is named by two outputs{also}; give each output its own file "
                    "(nothing was written)",
                )


def check_default_output(
    path: PathLike,
    new: Union[bytes, str, None],
    overwrite: bool,
    *,
    flag: str = OVERWRITE_FLAG,
) -> bool:
    """Whether to write ``new`` to ``path``, a file a command writes without being
    told to (such as the ``labels.json`` beside a converted corpus).

    An existing file that holds ``new`` exactly is left alone (False); one that
    differs is an error unless ``overwrite`` (True: write it). new: the bytes (or
    text, as UTF-8) that would be written; None when they cannot be known before the
    command runs, so that any existing file counts as different.
    """
    path = Path(path)
    check_writable(path)
    if not path.exists():
        return True
    if new is not None:
        data = new.encode("utf-8") if isinstance(new, str) else new
        if path.read_bytes() == data:
            return False
    if overwrite:
        return True
    raise DataError(
        path,
        f"already exists and differs from what this command would write; pass "
        f"{flag} to replace it, or write elsewhere (nothing was written)",
    )


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


def content_sha256(path: PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, or of a folder's: every file under it, by relative
    path and content, in sorted order (so a renamed, added, removed or edited file
    changes it; timestamps and permissions do not)."""
    root = Path(path)
    digest = hashlib.sha256()
    files = (
        [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    )
    for file in files:
        if file is not root:
            digest.update(file.relative_to(root).as_posix().encode("utf-8") + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(chunk_size), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
