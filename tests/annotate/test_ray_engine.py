"""annotate --engine ray: the local engine's shards, byte for byte, from Ray actors.

The Ray tests need the ``ray`` extra (``pip install spacy_kd[ray]``); they are
skipped without it, unless SPACY_KD_REQUIRE_RAY is set (scripts/test.sh sets it, so
a CI without the extra fails instead of skipping them).
"""

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import DATA_DIR, REPO_ROOT
from helpers import train_bow_textcat
from typer.testing import CliRunner

from spacy_kd.annotate import run as annotate_module
from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.errors import DataError

TRAIN, TEST = DATA_DIR / "20ng_train.jsonl", DATA_DIR / "20ng_test.jsonl"
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAS_RAY and not os.environ.get("SPACY_KD_REQUIRE_RAY"),
    reason="the ray extra is not installed: pip install spacy_kd[ray]",
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two tiny BOW teachers, the 100 test texts as .jsonl and as .spacy, dev data."""
    tmp = tmp_path_factory.mktemp("ray_engine")
    reader = create_textcat_corpus_reader(TRAIN)
    uni = train_bow_textcat(reader, tmp / "uni", epochs=3)
    bi = train_bow_textcat(reader, tmp / "bi", ngram_size=2, epochs=2, seed=1)
    convert(TEST, tmp / "pool.spacy")
    convert(TRAIN, tmp / "dev.spacy")
    return {"teachers": [uni, bi], "jsonl": TEST, "tmp": tmp}


def files(folder: Path):
    """The shards and their statistics, with their bytes."""
    names = [p for p in sorted(folder.iterdir()) if p.name.startswith("shard-")]
    return {p.name: p.read_bytes() for p in names}


@needs_ray
def test_embedded_ray_writes_the_local_engines_shards(setup, tmp_path):
    """Through the CLI: 2 actors on an embedded Ray, 4 shards; every shard and
    statistics file equals the local engine's, and so does the manifest."""
    teachers = setup["teachers"]
    annotate(
        teachers, setup["jsonl"], tmp_path / "local", shard_size=30, weights=[1, 3],
        progress=False,
    )  # fmt: skip
    args = [*teachers, setup["jsonl"], tmp_path / "ray"]
    result = CliRunner().invoke(
        app,
        ["annotate", *map(str, args), "--engine", "ray", "--n-process", "2"]
        + ["--shard-size", "30", "--weights", "1,3", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "Annotated 100 docs into 4 shards" in result.output
    local, ray_files = files(tmp_path / "local"), files(tmp_path / "ray")
    assert len(local) == 8 and ray_files == local
    manifest = "manifest.json"
    assert (tmp_path / "ray" / manifest).read_bytes() == (
        tmp_path / "local" / manifest
    ).read_bytes()
    import ray

    assert not ray.is_initialized()  # the embedded Ray is stopped at the end


@needs_ray
def test_a_killed_driver_resumes_and_the_dev_fit_reaches_the_actors(
    setup, tmp_path, monkeypatch
):
    """DocBin input, weights and temperatures fitted on dev (on the driver): a run
    stopped while writing its third shard resumes to the local engine's files."""
    teachers, pool, dev = setup["teachers"], setup["tmp"] / "pool.spacy", None
    dev = setup["tmp"] / "dev.spacy"
    kwargs = {"weights_from_dev": dev, "shard_size": 25, "progress": False}
    clean = annotate(teachers, pool, tmp_path / "local", **kwargs)
    assert set(clean.calibration["temperatures"]) == {"uni", "bi"}
    real_write = annotate_module.write_bytes_atomic
    calls = {"n": 0}

    def interrupt_on_third(path, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third shard is written
        real_write(path, data)

    monkeypatch.setattr(annotate_module, "write_bytes_atomic", interrupt_on_third)
    out = tmp_path / "ray"
    with pytest.raises(KeyboardInterrupt):
        annotate(teachers, pool, out, engine="ray", n_process=2, **kwargs)
    import ray

    assert not ray.is_initialized()
    assert len(iter_shards(out)) == 2
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(annotate_module, "write_bytes_atomic", real_write)

    def no_dev_run(*args, **kwargs):
        raise AssertionError("the teachers ran over dev again")

    monkeypatch.setattr(annotate_module, "fit_on_dev", no_dev_run)
    summary = annotate(teachers, pool, out, engine="ray", n_process=1, **kwargs)
    assert summary.n_shards_resumed == 2 and summary.dev_fit_reused
    assert summary.weights == clean.weights
    assert files(out) == files(tmp_path / "local")


def actor_pids():
    """The processes of the ShardWorker actors (Ray names them so) of the embedded
    Ray this process started (its raylet's children): no one else's."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if b"ray::ShardWorker" in (proc / "cmdline").read_bytes():
                if os.getpid() in ancestors(int(proc.name)):
                    pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def ancestors(pid):
    found = []
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state
        found.append(pid)
    return found


@needs_ray
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds actors in /proc")
def test_an_actor_killed_mid_run_is_restarted_and_its_shards_retried(setup, tmp_path):
    teacher, out = setup["teachers"][:1], tmp_path / "ray"
    annotate(teacher, setup["jsonl"], tmp_path / "local", shard_size=1, progress=False)
    killed = []

    def kill_an_actor_after_the_first_shard():
        deadline = time.monotonic() + 120
        while not list(out.glob("shard-*.spacy")) and time.monotonic() < deadline:
            time.sleep(0.005)
        for pid in actor_pids()[:1]:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_an_actor_after_the_first_shard)
    killer.start()
    summary = annotate(
        teacher, setup["jsonl"], out, shard_size=1, engine="ray", n_process=2,
        progress=False,
    )  # fmt: skip
    killer.join()
    assert killed and summary.n_shards == 100
    assert files(out) == files(tmp_path / "local")


@needs_ray
def test_a_two_node_cluster_writes_the_same_shards(setup, tmp_path):
    """--address: a 2-node cluster of 1 CPU each, so the 2 actors run on both."""
    from ray.cluster_utils import Cluster

    teachers = setup["teachers"]
    annotate(
        teachers, setup["jsonl"], tmp_path / "local", shard_size=20, limit=60,
        progress=False,
    )  # fmt: skip
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        summary = annotate(
            teachers, setup["jsonl"], tmp_path / "ray", shard_size=20, limit=60,
            engine="ray", address=cluster.address, n_process=2, progress=False,
        )  # fmt: skip
        assert summary.n_shards == 3
        with pytest.raises(DataError, match="has 2 CPUs: too few for 3 actors"):
            annotate(
                teachers, setup["jsonl"], tmp_path / "three", engine="ray",
                address=cluster.address, n_process=3, progress=False,
            )  # fmt: skip
    finally:
        cluster.shutdown()
    assert files(tmp_path / "ray") == files(tmp_path / "local")


def test_ray_engine_without_ray_says_how_to_install_it(setup, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = [*setup["teachers"], setup["jsonl"], tmp_path / "out"]
    result = CliRunner().invoke(
        app, ["annotate", *map(str, args), "--engine", "ray", "--no-progress"]
    )
    assert result.exit_code == 1
    assert "--engine ray needs Ray, which is not installed: pip install " in (
        result.output
    )
    assert "spacy_kd[ray]" in result.output
    assert not (tmp_path / "out").exists()


def test_engine_options_are_checked(setup, tmp_path):
    teachers, pool = setup["teachers"], setup["jsonl"]
    with pytest.raises(DataError, match="--engine must be one of local, ray"):
        annotate(teachers, pool, tmp_path / "out", engine="dask")
    with pytest.raises(DataError, match="--address needs --engine ray"):
        annotate(teachers, pool, tmp_path / "out", address="auto")
    assert not (tmp_path / "out").exists()


def test_the_local_engine_never_imports_ray(setup, tmp_path):
    teacher = setup["teachers"][0]
    code = (
        "import sys\n"
        "from spacy_kd.cli import app\n"
        f"app(['annotate', {str(teacher)!r}, {str(setup['jsonl'])!r}, "
        f"{str(tmp_path / 'out')!r}, '--limit', '5', '--no-progress'], "
        "standalone_mode=False)\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert len(iter_shards(tmp_path / "out")) == 1
