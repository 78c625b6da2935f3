"""Speed and memory of a pipeline, measured in a fresh subprocess; size on disk.

Each pipeline gets its own interpreter (``python -m spacy_kd.evaluation.worker``) with
the same thread count, so one pipeline's allocations, caches and imports never show
in another's numbers. A pipeline that needs no torch can be measured where torch,
transformers and spacy-transformers cannot be found (``hide=TORCH_STACK``), as on a
machine without them: thinc imports torch whenever it can, and its memory would show
in every pipeline's numbers.
"""

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

from spacy_kd.evaluation.isolation import hidden_site, isolated_env
from spacy_kd.evaluation.worker import TORCH_STACK
from spacy_kd.util import python_command, worker_env

__all__ = ["TORCH_STACK", "SpeedMemory", "disk_size_mib", "measure_pipeline"]


@dataclass
class SpeedMemory:
    """What the worker measured (seconds, docs/s, words/s, MiB)."""

    latency_median_s: float
    latency_p95_s: float
    latency_mean_s: float
    docs_per_s: float
    words_per_s: float
    peak_rss_load_mib: float
    peak_rss_infer_mib: float
    rss_after_import_mib: float
    load_s: float
    n_docs: int
    n_words: int
    n_warmup: int
    batch_size: int
    n_threads: int
    torch_threads: Any = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "extra"}
        data.update(self.extra)
        return data

    @classmethod
    def from_worker(cls, result: Dict[str, Any]) -> "SpeedMemory":
        names = set(cls.__dataclass_fields__) - {"extra"}
        known = {k: v for k, v in result.items() if k in names}
        extra = {k: v for k, v in result.items() if k not in names}
        return cls(**known, extra=extra)


def disk_size_mib(path: Union[str, Path]) -> float:
    """Total size of the files under ``path``, in MiB."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total / (1024.0 * 1024.0)


def measure_pipeline(
    path: Union[str, Path],
    texts: Sequence[str],
    *,
    n_threads: int = 1,
    batch_size: int = 128,
    n_warmup: int = 16,
    hide: Sequence[str] = (),
) -> SpeedMemory:
    """Latency, throughput and peak RSS of one pipeline, in its own fresh process.

    hide: top-level packages the process must not find (e.g. ``TORCH_STACK``); it
        then runs with ``python -S`` on a site-packages of links without them.
    """
    if not texts:
        raise ValueError("speed measurement needs at least one text")
    job = {
        "pipeline": str(Path(path).resolve()),
        "texts": list(texts),
        "n_threads": int(n_threads),
        "batch_size": int(batch_size),
        "n_warmup": int(n_warmup),
        "hidden": list(hide),
    }
    with tempfile.TemporaryDirectory(prefix="spacy_kd_measure_") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        env = worker_env(n_threads)
        flags: List[str] = []
        if hide:
            env = isolated_env(n_threads, hidden_site(Path(tmp) / "site", hide))
            flags = ["-S"]
        cmd: List[str] = [
            *python_command(),
            *flags,
            "-m",
            "spacy_kd.evaluation.worker",
            str(job_path),
            str(out_path),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out_path.exists():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            where = f" where {', '.join(hide)} cannot be imported" if hide else ""
            raise RuntimeError(
                f"measuring {path} failed in its subprocess{where} (exit code "
                f"{proc.returncode}):\n{tail}"
            )
        result = json.loads(out_path.read_text(encoding="utf-8"))
    return SpeedMemory.from_worker(result)
