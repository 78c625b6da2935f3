"""Train the student grid: architectures x teachers x targets x pseudo-label caps,
and each architecture's gold-only baseline.

Every model is ``python -m spacy train CONFIG`` with one of the student configs
(configs/student_bow.cfg, configs/student_tfidf.cfg, ...: the architecture is the
config's name without ``student_``). The baseline of an architecture is its config
with ``--paths.pseudo null``: the same model, loss and schedule on the gold docs
alone, the honest reference for what distillation adds. Students train on the gold
docs plus the shards of ONE ``annotate`` run with all the teachers:
``--distillation.teachers`` picks the teacher whose outputs a student learns
(``ensemble``: the combination annotate wrote), ``--distillation.hard`` turns them
into 0/1 labels, and ``--distillation.max_pseudo`` caps the pseudo-labelled docs (0:
all; smaller caps are subsets of larger ones). Models go to OUT/baseline_<arch> and
OUT/student_<arch>_<teacher>_<target>_<cap>; a model whose training finished (a
``training.json`` beside it, with the same config and overrides) is not trained
again, one whose training was cut off is redone. OUT/students.json lists them all
(``role``: baseline or student), for the report.

Where the annotate run's weights put everything on one teacher (a weight of
exactly 0 for every other, as the dev fit often gives), the ensemble's targets are
that teacher's, to the last bit: each ensemble student is then a copy of that
teacher's student of the same architecture, target and cap, not trained again
(``copied_from`` in its ``training.json``).

``jobs`` models train at once, each with ``threads // jobs`` threads (OMP, MKL,
OpenBLAS and torch variables) and its output in OUT/logs/<name>.log: a student's
training is mostly single-threaded, so on 2 cores two at once take about half the
time of one after the other.
"""

import json
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from spacy_kd.annotate.manifest import SUMMARY
from spacy_kd.errors import DataError
from spacy_kd.util import check_writable, python_command, worker_env

ENSEMBLE = "ensemble"
TARGETS = ("hard", "soft")
DEFAULT_CONFIG = Path("configs") / "student_bow.cfg"

PathLike = Union[str, Path]


class TrainingFailed(RuntimeError):
    """One or more students' ``spacy train`` exited with an error."""


def short(teacher: str) -> str:
    """A teacher's name in its students' names: ``teacher_bert`` -> ``bert``."""
    return teacher[len("teacher_") :] if teacher.startswith("teacher_") else teacher


def arch_name(config: PathLike) -> str:
    """An architecture's name from its config: ``student_tfidf.cfg`` -> ``tfidf``."""
    stem = Path(config).stem
    return stem[len("student_") :] if stem.startswith("student_") else stem


def student_name(arch: str, teacher: str, target: str, cap: int) -> str:
    return f"student_{arch}_{short(teacher)}_{target}_{cap or 'all'}"


def baseline_name(arch: str) -> str:
    return f"baseline_{arch}"


def sole_teacher(pseudo: PathLike) -> Optional[str]:
    """The one teacher with a weight other than 0 in the annotate run in ``pseudo``
    (its summary.json), or None (several, or no readable summary)."""
    try:
        summary = json.loads((Path(pseudo) / SUMMARY).read_text(encoding="utf-8"))
        teachers, weights = summary["teachers"], summary["weights"]
        if len(teachers) != len(weights):
            return None
        nonzero = [str(t) for t, w in zip(teachers, weights) if float(w) != 0.0]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return nonzero[0] if len(nonzero) == 1 else None


def resolve_config(value: PathLike, config_dir: PathLike = "configs") -> Path:
    """A config's path, or its name in ``config_dir`` (``student_tfidf``)."""
    path = Path(value)
    if path.suffix == ".cfg" or len(path.parts) > 1:
        return path
    return Path(config_dir) / f"{value}.cfg"


def _check_arguments(
    teachers: Sequence[str],
    targets: Sequence[str],
    caps: Sequence[int],
    jobs: int,
    threads: int,
) -> None:
    if not teachers:
        raise ValueError("teachers: give at least one")
    bad = sorted(set(targets) - set(TARGETS))
    if bad or not targets:
        raise ValueError(f"targets: unknown {bad}; use hard and/or soft")
    if not caps or any(c < 0 for c in caps):
        raise ValueError(f"caps: integers >= 0 (0: the whole pool), got {list(caps)}")
    if jobs < 1:
        raise ValueError(f"jobs: at least 1, got {jobs}")
    if threads < 0:
        raise ValueError(f"threads: at least 0, got {threads}")


def train_students(
    output_dir: PathLike,
    gold: PathLike,
    dev: PathLike,
    pseudo: PathLike,
    *,
    teachers: Sequence[str] = (ENSEMBLE,),
    targets: Sequence[str] = TARGETS,
    caps: Sequence[int] = (0,),
    configs: Sequence[PathLike] = (DEFAULT_CONFIG,),
    baselines: bool = True,
    temperature: Optional[float] = None,
    alpha: Optional[float] = None,
    seed: int = 0,
    jobs: int = 1,
    threads: int = 0,
    overrides: Sequence[str] = (),
) -> Path:
    """Train every student of the grid that is not trained yet; return the path of
    OUT/students.json.

    gold, dev: the labelled and dev DocBins; pseudo: annotate's output folder.
    teachers: teacher names in the shards' records, or ``ensemble``.
    caps: pseudo-labelled docs per student (0: all).
    configs: the student configs, one per architecture (paths, or names in configs/).
    baselines: also train each architecture's gold-only baseline.
    temperature, alpha: the distillation settings (None: the config's).
    threads: threads in all, shared by the jobs (0: leave the environment's).
    overrides: extra ``spacy train`` arguments, e.g. ``["--training.max_steps", "6"]``.
    Raises TrainingFailed when a student's training fails; no student is started
    after that, and students.json is not written.
    """
    _check_arguments(teachers, targets, caps, jobs, threads)
    config_paths = [resolve_config(c) for c in configs]
    if not config_paths:
        raise ValueError("configs: give at least one student config")
    archs = [arch_name(c) for c in config_paths]
    if len(set(archs)) != len(archs):
        raise ValueError(f"configs: two configs have one architecture name: {archs}")
    checks = [(c, "config") for c in config_paths]
    for path, what in (*checks, (gold, "gold data"), (dev, "dev data")):
        if not Path(path).is_file():
            raise DataError(path, f"{what} not found")
    if not Path(pseudo).is_dir():
        raise DataError(pseudo, "annotate's output folder not found")
    check_writable(output_dir, folder=True)
    # each job's share of the threads; None: leave the environment's thread settings
    job_threads = None
    if threads or jobs > 1:
        job_threads = max(1, (threads or os.cpu_count() or 1) // jobs)

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    listing: List[Dict] = []
    pending: List[Dict] = []
    copies: List[Dict] = []  # ensemble students equal to a teacher's
    common = ["--paths.train", str(gold), "--paths.dev", str(dev),
              "--system.seed", str(seed)]  # fmt: skip
    grid: List[Dict] = []
    sole = sole_teacher(pseudo) if ENSEMBLE in teachers else None
    for config, arch in zip(config_paths, archs):
        if baselines:
            args = [*common, "--paths.pseudo", "null", *overrides]
            grid.append(
                {
                    "name": baseline_name(arch),
                    "role": "baseline",
                    "arch": arch,
                    "config": str(config),
                    "args": args,
                }  # fmt: skip
            )
        for teacher in teachers:
            for target in targets:
                for cap in caps:
                    picked = "null" if teacher == ENSEMBLE else json.dumps([teacher])
                    args = [
                        *common, "--paths.pseudo", str(pseudo),
                        "--distillation.teachers", picked,
                        "--distillation.hard", "true" if target == "hard" else "false",
                        "--distillation.max_pseudo", str(cap),
                    ]  # fmt: skip
                    if temperature is not None:
                        args += ["--distillation.temperature", str(temperature)]
                    if alpha is not None:
                        args += ["--distillation.alpha", str(alpha)]
                    grid.append(
                        {
                            "name": student_name(arch, teacher, target, cap),
                            "role": "student",
                            "arch": arch,
                            "config": str(config),
                            "baseline": baseline_name(arch) if baselines else None,
                            "teacher": teacher,
                            "target": target,
                            "cap": cap,
                            "args": [*args, *overrides],
                        }  # fmt: skip
                    )
                    if teacher == ENSEMBLE and sole in teachers:
                        grid[-1]["same_as"] = student_name(arch, sole, target, cap)
    for item in grid:
        folder = out / item["name"]
        entry = {**item, "path": str(folder / "model-best"), "overrides": item["args"]}
        del entry["args"]
        done = folder / "training.json"
        if done.exists():
            trained = json.loads(done.read_text(encoding="utf-8"))
            same = trained.get("config") == entry["config"]
            if same and trained["overrides"] == entry["overrides"]:
                print(f"{entry['name']}: already trained", flush=True)
                listing.append(trained)
                continue
        listing.append(entry)
        (copies if "same_as" in entry else pending).append(entry)

    log_dir = out / "logs" if jobs > 1 else None
    failed = threading.Event()

    def train(entry: Dict) -> Optional[str]:
        if failed.is_set():  # do not start more students after a failure
            return None
        folder = Path(entry["path"]).parent
        shutil.rmtree(folder, ignore_errors=True)  # a cut-off or different run
        cmd = [*python_command(), "-m", "spacy", "train", entry["config"],
               "--output", str(folder), *entry["overrides"]]  # fmt: skip
        env = worker_env(job_threads) if job_threads else None
        print("+ " + " ".join(cmd), flush=True)
        start = time.perf_counter()
        if log_dir is None:
            rc = subprocess.call(cmd, env=env)
        else:
            log_dir.mkdir(exist_ok=True)
            log = log_dir / f"{entry['name']}.log"
            with log.open("w", encoding="utf-8") as f:
                rc = subprocess.call(cmd, env=env, stdout=f, stderr=subprocess.STDOUT)
            if rc != 0:
                text = log.read_text(encoding="utf-8", errors="replace")
                print("\n".join(text.splitlines()[-30:]), flush=True)
        if rc != 0:
            failed.set()
            where = f", log {log_dir / (entry['name'] + '.log')}" if log_dir else ""
            return f"{entry['name']}: spacy train failed (exit {rc}){where}"
        entry["seconds"] = round(time.perf_counter() - start, 1)
        (folder / "training.json").write_text(
            json.dumps(entry, indent=2), encoding="utf-8"
        )
        print(f"{entry['name']}: trained in {entry['seconds']:.0f} s", flush=True)
        return None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        errors = [e for e in pool.map(train, pending) if e]
    if errors:
        raise TrainingFailed("; ".join(errors))
    for entry in copies:
        _copy_student(entry, out / entry["same_as"], sole)
    path = out / "students.json"
    tmp = out / ".students.json.tmp"
    tmp.write_text(json.dumps(listing, indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def _copy_student(entry: Dict, source: Path, teacher: Optional[str]) -> None:
    """Make ``entry`` a copy of the trained student in ``source`` (written beside
    its place first, then renamed)."""
    folder = Path(entry["path"]).parent
    tmp = folder.with_name(f".{folder.name}.copy")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    entry["copied_from"] = source.name
    entry["seconds"] = 0.0
    (tmp / "training.json").write_text(json.dumps(entry, indent=2), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(
        f"{entry['name']}: the annotate run's weights are all on {teacher}, so its "
        f"targets are {source.name}'s: copied from it",
        flush=True,
    )
