"""Measure one pipeline's speed and memory in this (fresh) process.

Run by :func:`spacy_kd.evaluation.measure.measure_pipeline` as
``python -m spacy_kd.evaluation.worker JOB.json RESULT.json``; it imports nothing of
spacy_kd beyond this module, so a pipeline that needs no torch-based spacy_kd
component is measured without one. The thread variables (``OMP_NUM_THREADS`` ...)
are set by the parent before this interpreter starts; so is, for a pipeline measured
without torch, a Python path on which torch, transformers and spacy-transformers
cannot be found (see :mod:`spacy_kd.evaluation.isolation`). The result says which
of those modules the process imported (``torch_stack_imported``).

Steps: read the texts, note peak RSS, load the pipeline, note peak RSS, warm up,
time ``nlp(text)`` for each text (latency), time ``nlp.pipe(texts)`` (throughput),
note peak RSS (see :func:`peak_rss_mib`).
"""

import gc
import importlib.util
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Sequence

# the modules a torch-free pipeline must never import (thinc imports torch whenever it
# can be found, and spaCy loads spacy-transformers' entry points)
TORCH_STACK = ("torch", "torchgen", "functorch", "transformers", "spacy_transformers")


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` from /proc/self/status: the high-water mark of this
    process's own address space. ``getrusage(RUSAGE_SELF).ru_maxrss`` cannot be used
    there, because the kernel carries the parent's peak over into a child across
    fork and exec, so a worker started by a parent holding a large pipeline would
    report the parent's memory. Elsewhere ``ru_maxrss`` is used (bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def peak_rss_source() -> str:
    return "VmHWM" if os.path.exists("/proc/self/status") else "ru_maxrss"


def percentile(values: List[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without importing numpy."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def imported_of(modules: Sequence[str]) -> List[str]:
    """Which of the top-level ``modules`` this process has imported."""
    loaded = {name.split(".")[0] for name in sys.modules}
    return [m for m in modules if m in loaded]


def measure(job: Dict[str, Any]) -> Dict[str, Any]:
    texts: List[str] = job["texts"]
    n_threads: int = job["n_threads"]
    batch_size: int = job["batch_size"]
    n_warmup: int = min(job["n_warmup"], len(texts))
    rss_start = peak_rss_mib()
    own_modules = sorted(m for m in sys.modules if m.split(".")[0] == "spacy_kd")
    import spacy

    rss_import = peak_rss_mib()
    t0 = time.perf_counter()
    nlp = spacy.load(job["pipeline"])
    load_s = time.perf_counter() - t0
    rss_load = peak_rss_mib()
    torch_threads = None
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(n_threads)
        torch_threads = torch.get_num_threads()
    # Warm-up: caches, lazy allocations, first-call overheads.
    for text in texts[:n_warmup]:
        nlp(text)
    for _ in nlp.pipe(texts[:n_warmup], batch_size=batch_size):
        pass
    gc.collect()
    latencies = []
    for text in texts:
        t = time.perf_counter()
        nlp(text)
        latencies.append(time.perf_counter() - t)
    gc.collect()
    n_words = 0
    t = time.perf_counter()
    for doc in nlp.pipe(texts, batch_size=batch_size):
        n_words += len(doc)
    batch_s = time.perf_counter() - t
    rss_infer = peak_rss_mib()
    hidden: List[str] = list(job.get("hidden", []))
    return {
        "n_docs": len(texts),
        "n_words": n_words,
        "n_warmup": n_warmup,
        "batch_size": batch_size,
        "n_threads": n_threads,
        "torch_threads": torch_threads,
        "torch_imported": "torch" in sys.modules,
        "torch_stack_imported": imported_of(TORCH_STACK),
        # the modules hidden from this process, and those it could indeed not find
        "hidden": hidden,
        "hidden_unavailable": [
            m for m in hidden if importlib.util.find_spec(m) is None
        ],
        "load_s": load_s,
        "latency_median_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "latency_mean_s": sum(latencies) / len(latencies)
        if latencies
        else float("nan"),
        "batch_s": batch_s,
        "docs_per_s": len(texts) / batch_s if batch_s > 0 else float("nan"),
        "words_per_s": n_words / batch_s if batch_s > 0 else float("nan"),
        "rss_start_mib": rss_start,
        "rss_after_import_mib": rss_import,
        "peak_rss_load_mib": rss_load,
        "peak_rss_infer_mib": rss_infer,
        "peak_rss_source": peak_rss_source(),
        # spacy_kd modules imported by this worker itself (spaCy later imports the
        # modules behind spacy_kd's entry-point factories, as for any package)
        "spacy_kd_modules_before_load": own_modules,
        "pid": os.getpid(),
        "python": platform.python_version(),
        "spacy": spacy.__version__,
        "env_threads": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        },
    }


def main(argv: List[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(
            "usage: python -m spacy_kd.evaluation.worker JOB.json RESULT.json\n"
        )
        return 2
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    result = measure(job)
    Path(argv[1]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
