"""spacy_kd.util: the command and environment the workflow passes to subprocesses."""

import subprocess
import sys

from spacy_kd.util import THREAD_VARS, worker_env

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
