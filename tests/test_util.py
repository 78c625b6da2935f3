"""spacy_kd.util: the command and environment the workflow passes to subprocesses;
the mode of the files we write and the checks made on outputs before writing."""

import os
import stat
import subprocess
import sys

import pytest

from spacy_kd.errors import DataError
from spacy_kd.util import (
    THREAD_VARS,
    check_default_output,
    check_outputs,
    current_umask,
    worker_env,
    write_bytes_atomic,
    write_json_atomic,
)

PRINT_COMMAND = "from spacy_kd.util import python_command; print(python_command())"


def test_python_command_passes_on_no_bytecode():
    with_b = subprocess.run(
        [sys.executable, "-B", "-c", PRINT_COMMAND],
        capture_output=True,
        text=True,
        check=True,
    )
    without = subprocess.run(
        [sys.executable, "-c", PRINT_COMMAND],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in worker_env(1).items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    assert with_b.stdout.strip() == repr([sys.executable, "-B"])
    assert without.stdout.strip() == repr([sys.executable])


def test_worker_env_sets_every_thread_variable():
    env = worker_env(3)
    assert all(env[var] == "3" for var in THREAD_VARS)
    assert env["TOKENIZERS_PARALLELISM"] in ("false", "true")


# ----- outputs: the mode they get, and the checks made before writing ---------------


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)])
def test_atomic_writes_get_the_mode_of_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        write_bytes_atomic(tmp_path / "a.bin", b"x")
        write_json_atomic(tmp_path / "sub" / "b.json", {"a": 1})
    finally:
        os.umask(old)
    for path in (tmp_path / "a.bin", tmp_path / "sub" / "b.json"):
        assert stat.S_IMODE(path.stat().st_mode) == mode
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.bin", "b.json", "sub"]


def test_check_outputs_refuses_inputs_duplicates_folders_and_files(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.spacy"
    source.write_text("{}\n")
    check_outputs([source, None], [out, None, tmp_path / "new" / "x.json"])
    with pytest.raises(DataError, match=r"in.jsonl: is an input of this command"):
        check_outputs([source], [tmp_path / "." / "in.jsonl"])
    link = tmp_path / "link.jsonl"
    os.link(source, link)  # a hard link is the same file under another name
    with pytest.raises(DataError, match="link.jsonl: is an input"):
        check_outputs([source], [link])
    with pytest.raises(DataError, match="out.spacy: is named by two outputs"):
        check_outputs([], [out, tmp_path / "sub" / ".." / "out.spacy"])
    with pytest.raises(DataError, match="is a folder, expected a file"):
        check_outputs([], [tmp_path])
    with pytest.raises(DataError, match=f"cannot be written: {source} is a file"):
        check_outputs([], [source / "x" / "y.json"])
    with pytest.raises(DataError, match="in.jsonl: is a file, expected a folder"):
        check_outputs([], [], folders=[source])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "link.jsonl"]


def test_check_default_output(tmp_path):
    path = tmp_path / "labels.json"
    assert check_default_output(path, "a", overwrite=False)  # absent: write it
    path.write_text("a", encoding="utf-8")
    assert not check_default_output(path, "a", overwrite=False)  # the same: leave it
    assert not check_default_output(path, b"a", overwrite=False)
    with pytest.raises(DataError, match="labels.json: already exists and differs"):
        check_default_output(path, "b", overwrite=False)
    with pytest.raises(DataError, match="pass --force to replace it"):
        check_default_output(path, None, overwrite=False, flag="--force")
    assert check_default_output(path, "b", overwrite=True)
    assert path.read_text() == "a"
