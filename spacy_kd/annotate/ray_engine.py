"""``annotate --engine ray``: the shards annotated by Ray actors, written by the driver.

Each actor (``ShardWorker``) loads the teachers once and then annotates whole shards
with ``annotate_shard``, the local engine's own function, so the work items are the
local engine's shards and a shard already on disk is skipped (a resume). An actor
returns the shard's statistics and DocBin bytes; the driver writes them with
``write_shard`` (atomically), so the files are those of the local engine for the same
input, teachers, batch size and threads per worker, and a killed driver resumes like
the local engine. An actor that dies is restarted and its shards retried
(``max_restarts`` / ``max_task_retries``); the work is a pure function of the shard,
so a retry writes the same bytes.

Without an address an embedded Ray is started on this machine, sized by the actors
and their threads, and stopped at the end; with one (``auto``, ``host:port``) the
driver joins that cluster, whose nodes must all read the teachers at the same paths
(their content is checked against the manifest's hashes on every node).
"""

import logging
import os
import socket
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from spacy.tokens import Doc

from spacy_kd.annotate.run import (
    Chunk,
    ShardSettings,
    annotate_shard,
    shard_done,
    torch_threads,
    write_shard,
)
from spacy_kd.annotate.teachers import Teacher, load_teachers
from spacy_kd.errors import DataError
from spacy_kd.util import THREAD_VARS, content_sha256

INSTALL_HINT = "pip install spacy_kd[ray]"
# a dead actor is restarted (teachers loaded again) and its shards retried this often
MAX_RESTARTS = 3
MAX_TASK_RETRIES = 3
IN_FLIGHT_PER_ACTOR = 2  # shards queued per actor: the next is ready when one ends


def require_ray() -> Any:
    """The ``ray`` module, or a DataError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise DataError(
            None, f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


class RemoteDataError(Exception):
    """A DataError raised in an actor, in a form that pickles back to the driver."""

    def __init__(self, path: Optional[str], problem: str, line: Optional[int]):
        super().__init__(path, problem, line)

    def to_data_error(self) -> DataError:
        path, problem, line = self.args
        return DataError(path, problem, line=line)


class ShardWorker:
    """A Ray actor's state: the teachers, loaded once, annotating shard after shard.

    teachers: the manifest's teacher entries (``path``, ``name``, ``sha256``).
    A failure to load them is kept and raised by ``annotate`` (an exception in an
    actor's constructor reaches the driver only as a traceback in words).
    """

    def __init__(
        self, teachers: List[Dict[str, Any]], settings: ShardSettings, threads: int
    ) -> None:
        self.settings = settings
        self.threads = threads
        self.teachers: List[Teacher] = []
        self.error: Optional[RemoteDataError] = None
        try:
            self.teachers = _load_checked(teachers)
        except DataError as e:
            self.error = RemoteDataError(e.path, e.problem, e.line)

    def annotate(self, index: int, payload: List[Tuple[Any, Any, bool]]) -> Dict:
        """``annotate_shard`` on shard ``index`` (items packed by ``to_payload``)."""
        if self.error is not None:
            raise self.error
        vocab = self.teachers[0].nlp.vocab
        chunk: Chunk = [
            (i, Doc(vocab).from_bytes(item) if is_doc else item)
            for i, item, is_doc in payload
        ]
        try:
            with torch_threads(self.threads):
                return annotate_shard(self.teachers, self.settings, index, chunk)
        except DataError as e:
            raise RemoteDataError(e.path, e.problem, e.line) from None


def _load_checked(entries: List[Dict[str, Any]]) -> List[Teacher]:
    """Load the teachers on this node; each must be the driver's (same content)."""
    node = socket.gethostname()
    for entry in entries:
        path = Path(entry["path"])
        if not path.exists():
            raise DataError(
                path,
                f"not found on Ray node {node}: every node must read the teachers "
                "at the driver's paths (a shared or copied folder)",
            )
        if content_sha256(path) != entry["sha256"]:
            raise DataError(
                path,
                f"differs on Ray node {node} from the driver's copy (another "
                "version of the teacher); copy the driver's folder there",
            )
    teachers = load_teachers([entry["path"] for entry in entries])
    for teacher, entry in zip(teachers, entries):
        teacher.name = entry["name"]
    return teachers


def to_payload(chunk: Chunk) -> List[Tuple[Any, Any, bool]]:
    """A shard's input items for an actor: a Doc as its bytes (rebuilt in the actor's
    first teacher's vocab, as the driver read it), a text as it is."""
    return [
        (i, item.to_bytes(), True) if isinstance(item, Doc) else (i, item, False)
        for i, item in chunk
    ]


def annotate_with_ray(
    manifest: Dict[str, Any],
    shards: Iterable[Tuple[int, Chunk]],
    output_dir: Path,
    settings: ShardSettings,
    *,
    n_actors: int = 1,
    threads: int = 0,
    address: Optional[str] = None,
    progress: bool = True,
) -> Tuple[int, int]:
    """Annotate the shards not on disk yet with ``n_actors`` Ray actors of ``threads``
    CPUs each (-1 actors: as many as the CPUs allow; 0 threads: 1), which load the
    run's teachers (``manifest["teachers"]``). Returns the number of input docs
    annotated and of shards resumed."""
    ray = require_ray()
    threads = threads or 1
    started = _connect(ray, address, n_actors, threads)
    bar = _progress(progress)
    try:
        n_actors = _n_actors(ray, n_actors, threads)
        worker = ray.remote(ShardWorker).options(
            num_cpus=threads,
            max_restarts=MAX_RESTARTS,
            max_task_retries=MAX_TASK_RETRIES,
            runtime_env={"env_vars": {var: str(threads) for var in THREAD_VARS}},
        )
        # n_process is the number of actors here: each runs nlp.pipe itself
        actor_settings = ShardSettings(**{**settings.__dict__, "n_process": 1})
        actors = [
            worker.remote(manifest["teachers"], actor_settings, threads)
            for _ in range(n_actors)
        ]
        load = {i: 0 for i in range(n_actors)}  # shards queued per actor
        pending: Dict[Any, Tuple[int, int]] = {}  # result -> (actor, input docs)
        n_new = n_resumed = 0

        def write_next() -> None:  # the next shard an actor finishes, any order
            nonlocal n_new
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            actor, n_docs = pending.pop(ref)
            load[actor] -= 1
            write_shard(output_dir, _result(ray, ref))
            n_new += n_docs
            bar.update(1)

        for index, chunk in shards:
            if shard_done(output_dir, index):
                n_resumed += 1
                bar.update(1)
                continue
            while min(load.values()) >= IN_FLIGHT_PER_ACTOR:
                write_next()
            actor = min(load, key=load.__getitem__)
            ref = actors[actor].annotate.remote(index, to_payload(chunk))
            pending[ref] = (actor, len(chunk))
            load[actor] += 1
        while pending:
            write_next()
        return n_new, n_resumed
    finally:
        bar.close()
        if started:
            ray.shutdown()


def _connect(ray: Any, address: Optional[str], n_actors: int, threads: int) -> bool:
    """Connect to Ray: the running connection, the cluster at ``address``, or a new
    local instance sized for the actors. True if this call started it."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address is None:
        n_cpus = threads * (n_actors if n_actors > 0 else _cpu_count() // threads)
        ray.init(
            address="local", num_cpus=max(n_cpus, threads), include_dashboard=False,
            **quiet,
        )  # fmt: skip
        return True
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise DataError(
            None,
            f"cannot join the Ray cluster at --address {address}: {e} (start one "
            "with `ray start --head`, or leave out --address for a local Ray)",
        ) from None
    return True


def _n_actors(ray: Any, n_actors: int, threads: int) -> int:
    """The number of actors: ``n_actors``, or (-1) as many as the cluster's CPUs
    allow; a DataError if the cluster has too few CPUs for them."""
    n_cpus = int(ray.cluster_resources().get("CPU", 0))
    if n_actors == -1:
        n_actors = n_cpus // threads
    if n_actors < 1 or n_actors * threads > n_cpus:
        raise DataError(
            None,
            f"the Ray cluster has {n_cpus} CPUs: too few for {max(n_actors, 1)} "
            f"actors of {threads} thread(s); lower --n-process or --threads",
        )
    return n_actors


def _result(ray: Any, ref: Any) -> Dict[str, Any]:
    """An actor's result; its DataError raised here as one (not as a traceback)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, RemoteDataError):
            raise e.cause.to_data_error() from None
        raise


def _cpu_count() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _progress(enabled: bool):
    from tqdm import tqdm

    return tqdm(total=None, unit="shard", disable=not enabled, desc="annotate (ray)")
