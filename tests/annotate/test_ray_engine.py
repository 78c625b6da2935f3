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
import time
from pathlib import Path

import pytest
from conftest import DATA_DIR, REPO_ROOT
from helpers import train_bow_textcat
from typer.testing import CliRunner

from spacy_kd.annotate import ray_engine
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


# no idle workers prestarted for a new Ray's first driver: the actors need workers of
# their own (another runtime_env), so those would only slow the tests down
NO_PRESTART = {"RAY_prestart_worker_first_driver": "0"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two tiny BOW teachers, the 100 test texts as .jsonl and as .spacy, dev data;
    and, started in the background (a fresh Python, for the last test), a local run
    that checks that ray is never imported."""
    tmp = tmp_path_factory.mktemp("ray_engine")
    reader = create_textcat_corpus_reader(TRAIN)
    # 4096 hashed features (not 2**18): small models, quick to save, hash and load
    uni = train_bow_textcat(reader, tmp / "uni", epochs=3, length=4096)
    no_ray = start_a_local_run_without_ray(uni, tmp / "no_ray")
    bi = train_bow_textcat(
        reader, tmp / "bi", ngram_size=2, epochs=2, seed=1, length=4096
    )
    convert(TEST, tmp / "pool.spacy")
    convert(TRAIN, tmp / "dev.spacy")
    yield {"teachers": [uni, bi], "jsonl": TEST, "tmp": tmp, "no_ray": no_ray}
    no_ray.kill()  # if its test did not run
    no_ray.wait()


def start_a_local_run_without_ray(teacher: Path, out: Path) -> subprocess.Popen:
    """``annotate`` (local engine) through the CLI in a new Python, which fails if
    ray was imported on the way; its output in ``out.log``."""
    code = (
        "import sys\n"
        "from spacy_kd.cli import app\n"
        f"app(['annotate', {str(teacher)!r}, {str(TEST)!r}, {str(out)!r}, "
        "'--limit', '5', '--no-progress'], standalone_mode=False)\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    with open(out.with_suffix(".log"), "w") as log:
        return subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO_ROOT, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def files(folder: Path):
    """The shards and their statistics, with their bytes."""
    names = [p for p in sorted(folder.iterdir()) if p.name.startswith("shard-")]
    return {p.name: p.read_bytes() for p in names}


@needs_ray
def test_embedded_ray_writes_the_local_engines_shards(setup, tmp_path, monkeypatch):
    """Through the CLI: 2 actors on an embedded Ray, 90 of the 100 texts in 3
    shards; every shard and statistics file equals the local engine's, and so does
    the manifest."""
    teachers = setup["teachers"]
    annotate(
        teachers, setup["jsonl"], tmp_path / "local", shard_size=30, weights=[1, 3],
        limit=90, progress=False,
    )  # fmt: skip
    args = [*teachers, setup["jsonl"], tmp_path / "ray"]
    for var, value in NO_PRESTART.items():
        monkeypatch.setenv(var, value)
    result = CliRunner().invoke(
        app,
        ["annotate", *map(str, args), "--engine", "ray", "--n-process", "2"]
        + ["--shard-size", "30", "--weights", "1,3", "--limit", "90"]
        + ["--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "Annotated 90 docs into 3 shards" in result.output
    local, ray_files = files(tmp_path / "local"), files(tmp_path / "ray")
    assert len(local) == 6 and ray_files == local
    manifest = "manifest.json"
    assert (tmp_path / "ray" / manifest).read_bytes() == (
        tmp_path / "local" / manifest
    ).read_bytes()
    import ray

    assert not ray.is_initialized()  # the embedded Ray is stopped at the end


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of 2 nodes of 1 CPU each (so 2 actors run one on each), shared
    by the tests that join it with ``address``: each run connects and disconnects
    (a job of its own), and no test waits for a Ray started for it alone."""
    from ray.cluster_utils import Cluster

    with pytest.MonkeyPatch.context() as env:
        for var, value in NO_PRESTART.items():
            env.setenv(var, value)  # read by the nodes' processes as they start
        head = {"num_cpus": 1, "include_dashboard": False}
        cluster = Cluster(initialize_head=True, head_node_args=head)
        try:
            cluster.add_node(num_cpus=1)
        except BaseException:
            cluster.shutdown()
            raise
    try:
        cluster.wait_for_nodes()
        yield cluster
    finally:
        cluster.shutdown()


def actor_pids():
    """The processes of the ShardWorker actors (Ray names them so) of the Ray
    clusters this process started (their raylets' children): no one else's."""
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
def test_a_killed_actor_is_restarted_and_a_killed_driver_resumes_on_two_nodes(
    setup, cluster, tmp_path, monkeypatch
):
    """--address, DocBin input, weights and temperatures fitted on dev (on the
    driver). A run of 1 actor: the actor is frozen (SIGSTOP) when the first shard is
    written, so the shard sent to it next cannot be done, and killed when the
    driver then waits: it is restarted and that shard retried. The run is stopped
    while writing its fourth shard, and resumes with 2 actors (one per node, each
    annotating one of the 2 shards left) to the local engine's files."""
    import ray

    teachers, pool = setup["teachers"], setup["tmp"] / "pool.spacy"
    dev = setup["tmp"] / "dev.spacy"
    kwargs = {"weights_from_dev": dev, "shard_size": 20, "progress": False}
    clean = annotate(teachers, pool, tmp_path / "local", **kwargs)
    assert set(clean.calibration["temperatures"]) == {"uni", "bi"}
    others = set(actor_pids())  # earlier runs' actors, maybe still exiting
    frozen, killed, later = [], [], []  # later: the actors as later shards land
    real_write_shard, real_wait = ray_engine.write_shard, ray.wait

    def freeze_the_actor_on_the_first_shard(output_dir, result):
        pids = [pid for pid in actor_pids() if pid not in others]
        if not frozen:
            assert len(pids) == 1, pids
            os.kill(pids[0], signal.SIGSTOP)
            frozen.append(pids[0])
        else:
            later.append(pids)
        real_write_shard(output_dir, result)

    def kill_the_frozen_actor(*args, **kwargs):
        if frozen and not killed:  # a shard was sent to it since it froze
            time.sleep(0.2)  # time for that shard to reach the actor
            os.kill(frozen[0], signal.SIGKILL)
            killed.append(frozen[0])
        return real_wait(*args, **kwargs)

    real_write = annotate_module.write_bytes_atomic
    calls = {"n": 0}

    def interrupt_on_fourth(path, data):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl-C while the fourth shard is written
        real_write(path, data)

    monkeypatch.setattr(ray_engine, "write_shard", freeze_the_actor_on_the_first_shard)
    monkeypatch.setattr(ray, "wait", kill_the_frozen_actor)
    monkeypatch.setattr(annotate_module, "write_bytes_atomic", interrupt_on_fourth)
    out, ray_kwargs = tmp_path / "ray", {"engine": "ray", "address": cluster.address}
    try:
        with pytest.raises(KeyboardInterrupt):
            annotate(teachers, pool, out, n_process=1, **ray_kwargs, **kwargs)
    finally:
        for pid in set(frozen) - set(killed):  # if the run failed in between
            os.kill(pid, signal.SIGKILL)
    assert killed and len(later) == 3
    assert later[-1] and killed[0] not in later[-1]  # another process: restarted
    assert not ray.is_initialized()  # the driver left the cluster
    assert len(iter_shards(out)) == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()

    def no_dev_run(*args, **kwargs):
        raise AssertionError("the teachers ran over dev again")

    monkeypatch.setattr(annotate_module, "fit_on_dev", no_dev_run)
    summary = annotate(teachers, pool, out, n_process=2, **ray_kwargs, **kwargs)
    assert summary.n_shards_resumed == 3 and summary.dev_fit_reused
    assert summary.weights == clean.weights
    assert files(out) == files(tmp_path / "local")


@needs_ray
def test_a_cluster_with_too_few_cpus_for_the_actors_is_refused(
    setup, cluster, tmp_path
):
    """--address: 2 CPUs (the two nodes write the local engine's shards: see the
    killed driver's test) are too few for 3 actors of 1 thread."""
    with pytest.raises(DataError, match="has 2 CPUs: too few for 3 actors"):
        annotate(
            setup["teachers"], setup["jsonl"], tmp_path / "three", engine="ray",
            address=cluster.address, n_process=3, progress=False,
        )  # fmt: skip
    import ray

    assert not ray.is_initialized()


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


def test_the_local_engine_never_imports_ray(setup):
    """The run started by ``setup`` (a fresh Python: the CLI and the local engine
    imported and run there) never imported ray."""
    returncode = setup["no_ray"].wait(timeout=600)
    assert returncode == 0, (setup["tmp"] / "no_ray.log").read_text()
    assert len(iter_shards(setup["tmp"] / "no_ray")) == 1
