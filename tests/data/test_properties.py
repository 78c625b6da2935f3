"""Property-based tests (hypothesis) of the data readers, ``convert`` and ``split``.

For every generated input, valid or malformed:

- no traceback: the function succeeds or raises a DataError (the CLI exits 0, or 1
  with a one-line ``✘`` message);
- no partial output: on failure nothing in the working folder changed (no new file,
  no temporary file, every existing file byte-identical);
- no overwritten input: the input's bytes are unchanged, whatever happened.
"""

import contextlib
import copy
import csv
import io
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest
import spacy
import srsly
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.convert import LABELS_FILE, convert
from spacy_kd.data.docbin import ID_KEY, read_docbin
from spacy_kd.data.records import read_records
from spacy_kd.data.split import SPLIT_NAMES, split_corpus
from spacy_kd.data.texts import read_texts
from spacy_kd.errors import DataError

SETTINGS = dict(
    deadline=None,
    database=None,  # no .hypothesis/ folder left in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# pathological inputs (huge JSON ints, deep nesting, corrupt DocBins): no shrinking
# (each example is already minimal in what matters; shrinking one takes minutes)
PATHOLOGICAL = dict(SETTINGS, phases=[Phase.explicit, Phase.generate])
# convert, split and read_texts make a blank English pipeline per call (~0.1 s, its
# tokenizer's special cases): the properties that call them draw fewer examples
VOCAB = spacy.blank("en").vocab  # to read outputs without a blank pipeline each time


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def snapshot(folder: Path) -> Dict[str, Optional[bytes]]:
    """Every path under ``folder`` (links not followed) -> its bytes (None: folder)."""
    found: Dict[str, Optional[bytes]] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            found[os.path.relpath(os.path.join(root, name), folder)] = None
        for name in files:
            path = Path(root) / name
            key = os.path.relpath(path, folder)
            found[key] = b"<link>" if path.is_symlink() else path.read_bytes()
    return found


def temporaries(folder: Path) -> List[str]:
    return [
        os.path.join(root, name)
        for root, _, files in os.walk(folder)
        for name in files
        if name.endswith(".tmp")
    ]


def attempt(fn, *args, **kwargs):
    """``fn``'s result, or the DataError it raised; any other exception propagates
    (and fails the test: that is the traceback the property forbids)."""
    try:
        result = fn(*args, **kwargs)
    except DataError as e:
        event("refused: DataError")
        return None, e
    event("accepted")
    return result, None


def assert_clean_cli(result) -> None:
    """Exit 0, or exit 1 with exactly one line, starting with ✘, on stderr."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception),
        result.output,
    )
    assert result.exit_code in (0, 1), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("✘ "), result.stderr


# ------------------------------------------------------------------------ strategies

NAMES = ["a", "b", "c", "pos", "neg", "ü", "sport.news"]
BAD_NAMES = ["", " ", " a", "a ", "\t", "\ud800", "a\udfff"]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(BAD_NAMES + NAMES),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(NAMES + BAD_NAMES) | st.text(max_size=4), inner, max_size=3
        ),
    ),
    max_leaves=6,
)
surrogate_text = st.builds(
    lambda a, s, b: a + s + b,
    st.text(max_size=4),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=4),
)
any_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "\n", "\t \r\n", "\ufeff", "\x00"]),
    surrogate_text,
)
good_text = st.text(min_size=1, max_size=30).filter(lambda t: t.strip())
label_value = st.one_of(st.sampled_from(NAMES + BAD_NAMES), json_values)
labels_value = st.one_of(
    st.lists(st.sampled_from(NAMES + BAD_NAMES), max_size=3), json_values
)
cats_value = st.one_of(
    st.dictionaries(
        st.sampled_from(NAMES + BAD_NAMES),
        st.sampled_from([0, 1, 0.0, 1.0, 0.5, -1, 2, True, None, "1"])
        | st.floats(allow_nan=True),
        max_size=3,
    ),
    json_values,
)
rows = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(any_text, any_text, json_values),
        "label": label_value,
        "labels": labels_value,
        "cats": cats_value,
        "id": json_values,
        "meta": json_values,
    },
)


@st.composite
def valid_rows(draw, kind: Optional[str] = None) -> dict:
    """A row that convert must accept: text, and one label kind (or none)."""
    kind = kind or draw(st.sampled_from(["none", "label", "labels", "cats"]))
    row: dict = {"text": draw(good_text)}
    if kind == "label":
        row["label"] = draw(st.sampled_from(NAMES))
    elif kind == "labels":
        row["labels"] = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
    elif kind == "cats":
        pos = draw(st.sampled_from(NAMES))
        others = draw(st.lists(st.sampled_from(NAMES), max_size=2))
        row["cats"] = {**{n: 0.0 for n in others}, pos: 1.0}
    if draw(st.booleans()):
        row["id"] = draw(st.integers(0, 10**6) | st.text(max_size=5))
    return row


def dump_line(row, ensure_ascii: bool) -> bytes:
    # a lone surrogate without ensure_ascii cannot be UTF-8: surrogatepass writes
    # the CESU bytes a broken encoder would, which the reader must refuse cleanly
    return json.dumps(row, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


@st.composite
def jsonl_lines(draw) -> bytes:
    kind = draw(
        st.sampled_from(["row", "row", "valid", "blank", "garbage", "other", "cut"])
    )
    if kind == "row":
        return dump_line(draw(rows), draw(st.booleans()))
    if kind == "valid":
        return dump_line(draw(valid_rows()), draw(st.booleans()))
    if kind == "blank":
        return draw(st.sampled_from([b"", b" ", b"\t", b"\r", b"  \r"]))
    if kind == "garbage":
        return draw(st.text(max_size=20)).encode("utf-8") + draw(st.binary(max_size=3))
    if kind == "other":  # valid JSON, not an object
        return dump_line(draw(json_values), True)
    line = dump_line(draw(rows), True)
    return line[: draw(st.integers(0, max(0, len(line) - 1)))]


@st.composite
def jsonl_files(draw) -> bytes:
    lines = draw(st.lists(jsonl_lines(), max_size=6))
    sep = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = sep.join(lines) + draw(st.sampled_from([b"", sep]))
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return data


csv_pieces = st.sampled_from(
    [
        '"',
        ",",
        "\n",
        "\r\n",
        "\r",
        '""',
        "a",
        "b c",
        "|",
        "[",
        "]",
        '{"a": 1}',
        " ",
        "é",
    ]
)
csv_cells = st.one_of(
    st.text(max_size=12),
    st.lists(csv_pieces, max_size=6).map("".join),
    st.sampled_from(NAMES + ["a|b", '["a", "b"]', '{"a": 1, "b": 0}', "{}", "[1]"]),
    st.integers(131_000, 140_000).map(lambda n: "x" * n),  # over csv's default limit
)
csv_headers = st.lists(
    st.sampled_from(["text", "label", "labels", "cats", "id", "", " text", "x"])
    | st.text(max_size=5),
    max_size=4,
)


@st.composite
def csv_files(draw) -> bytes:
    header = draw(csv_headers)
    if draw(st.booleans()) and "text" not in header:
        header = ["text", *header]
    body = draw(st.lists(st.lists(csv_cells, max_size=5), max_size=4))
    if draw(st.booleans()):  # proper quoting, by the csv module
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerow(header)
        writer.writerows(body)
        text = out.getvalue()
    else:  # raw: stray quotes and newlines break records wherever they fall
        text = "\n".join(",".join(r) for r in [header, *body])
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 5)) == 0:  # a byte that is not UTF-8
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80"]))
            + data[at:]
        )
    return data


@st.composite
def valid_csv_files(draw) -> bytes:
    kind = draw(st.sampled_from(["label", "labels", "cats"]))
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["text", kind])
    for row in draw(st.lists(valid_rows(kind), min_size=1, max_size=5)):
        cell = row[kind]
        if kind == "labels":
            cell = draw(st.sampled_from(["|", "json"]))
            cell = "|".join(row["labels"]) if cell == "|" else json.dumps(row["labels"])
        elif kind == "cats":
            cell = json.dumps(row["cats"])
        writer.writerow([row["text"], cell])
    return out.getvalue().encode("utf-8")


any_input = st.one_of(
    st.tuples(st.just(".jsonl"), jsonl_files()),
    st.tuples(st.just(".csv"), csv_files()),
    st.tuples(st.sampled_from([".jsonl", ".csv"]), st.binary(max_size=60)),
    st.builds(
        lambda rs: (".jsonl", b"\n".join(dump_line(r, False) for r in rs)),
        st.lists(valid_rows(), min_size=1, max_size=5),
    ),
    st.tuples(st.just(".csv"), valid_csv_files()),
)


# ------------------------------------------------------------------------ readers


@settings(max_examples=150, **SETTINGS)
@given(data=jsonl_files())
def test_read_records_jsonl_yields_records_or_a_data_error(data):
    with workdir() as tmp:
        src = tmp / "in.jsonl"
        src.write_bytes(data)
        records, err = attempt(lambda: list(read_records(src)))
        assert src.read_bytes() == data
        if err is not None:
            assert str(err).startswith(f"{src}")
            return
        assert records and any(r.text.strip() for r in records)
        for r in records:
            assert isinstance(r.text, str)
            r.text.encode("utf-8")  # no lone surrogate got through
            assert r.kind in (None, "label", "labels", "cats")
            for name in r.label_names():
                assert isinstance(name, str) and name and name == name.strip()
                name.encode("utf-8")
            if r.kind == "cats":
                assert all(v in (0.0, 1.0) for v in r.cats.values())


@settings(max_examples=40, **SETTINGS)
@given(rows_=st.lists(valid_rows(), min_size=1, max_size=6), bom=st.booleans())
def test_read_records_jsonl_reads_every_valid_row(rows_, bom):
    with workdir() as tmp:
        src = tmp / "in.jsonl"
        data = b"\n".join(dump_line(r, False) for r in rows_)
        src.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        records = list(read_records(src))
        assert [r.text for r in records] == [r["text"] for r in rows_]
        assert [r.line for r in records] == list(range(1, len(rows_) + 1))


@settings(max_examples=120, **SETTINGS)
@given(data=csv_files(), suffix=st.sampled_from([".csv", ".tsv"]))
def test_read_records_csv_yields_records_or_a_data_error(data, suffix):
    with workdir() as tmp:
        src = tmp / f"in{suffix}"
        src.write_bytes(data)
        records, err = attempt(lambda: list(read_records(src)))
        assert src.read_bytes() == data
        if err is None:
            assert records and any(r.text.strip() for r in records)
            for r in records:
                r.text.encode("utf-8")
                for name in r.label_names():
                    assert name and name == name.strip()


@settings(max_examples=30, **SETTINGS)
@given(data=valid_csv_files())
def test_read_records_csv_reads_every_valid_row(data):
    with workdir() as tmp:
        src = tmp / "in.csv"
        src.write_bytes(data)
        records = list(read_records(src))
        expected = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))[1:]
        assert [r.text for r in records] == [row[0] for row in expected]


@settings(max_examples=20, **SETTINGS)
@given(
    case=st.one_of(
        st.tuples(
            st.sampled_from([".txt", ".jsonl", ".csv", ".md"]), st.binary(max_size=80)
        ),
        st.tuples(st.just(".jsonl"), jsonl_files()),
        st.tuples(st.just(".txt"), jsonl_files()),
        st.tuples(st.just(".csv"), csv_files()),
    )
)
def test_read_texts_yields_texts_or_a_data_error(case):
    suffix, data = case
    with workdir() as tmp:
        src = tmp / f"in{suffix}"
        src.write_bytes(data)
        items, err = attempt(lambda: list(read_texts(src)))
        assert src.read_bytes() == data
        if err is None:
            assert any(text.strip() for _, text in items)
            for _, text in items:
                assert isinstance(text, str)
                text.encode("utf-8")
            if suffix in (".txt", ".md"):  # ids are line numbers, blank lines kept
                assert [i for i, _ in items] == list(range(len(items)))


# ------------------------------------------------------------------------ convert

OUTPUTS = [
    "fresh",
    "beside",
    "input",
    "input_dotted",
    "input_symlink",
    "input_hardlink",
]
LABELS_OUTS = ["default", "separate", "output", "input", "output_symlink"]


def output_path(tmp: Path, src: Path, how: str) -> Path:
    if how == "fresh":
        return tmp / "out" / "train.spacy"
    if how == "beside":
        return tmp / "train.spacy"
    if how == "input":
        return src
    if how == "input_dotted":
        return tmp / "." / ".." / tmp.name / src.name
    link = tmp / "alias.spacy"
    if how == "input_symlink":
        link.symlink_to(src)
    else:
        os.link(src, link)
    return link


def labels_out_path(tmp: Path, src: Path, out: Path, how: str) -> Optional[Path]:
    if how == "default":
        return None
    if how == "separate":
        return tmp / "meta" / "labels.json"
    if how == "output":
        return out
    if how == "input":
        return src
    link = tmp / "labels_link.json"
    link.symlink_to(out)
    return link


@settings(max_examples=60, **SETTINGS)
@given(
    case=any_input,
    # outputs that are inputs are refused early: draw them less often
    out_how=st.sampled_from(["fresh", "fresh", "beside", *OUTPUTS]),
    labels_how=st.sampled_from(["default", "default", "separate", *LABELS_OUTS]),
    multi_label=st.sampled_from([None, True, False]),
    existing_out=st.sampled_from([None, b"", b"junk"]),
    existing_labels=st.sampled_from(
        [None, None, None, b"not json", b'{"labels": ["a"], "multi_label": false}\n']
    ),
)
def test_convert_writes_whole_outputs_or_nothing(
    case, out_how, labels_how, multi_label, existing_out, existing_labels
):
    suffix, data = case
    with workdir() as tmp:
        src = tmp / f"in{suffix}"
        src.write_bytes(data)
        out = output_path(tmp, src, out_how)
        labels_out = labels_out_path(tmp, src, out, labels_how)
        aliased = out_how.startswith("input") or labels_how in (
            "output",
            "input",
            "output_symlink",
        )
        if existing_out is not None and not out_how.startswith("input"):
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(existing_out)
        if existing_labels is not None:
            beside = out.parent / LABELS_FILE
            if not beside.exists():
                beside.parent.mkdir(parents=True, exist_ok=True)
                beside.write_bytes(existing_labels)
        before = snapshot(tmp)
        summary, err = attempt(
            convert, src, out, multi_label=multi_label, labels_out=labels_out
        )
        assert src.read_bytes() == data, "the input was written over"
        assert not temporaries(tmp)
        if aliased:
            assert err is not None, "an output that is an input (or another output)"
        if err is not None:
            assert snapshot(tmp) == before, f"a refused convert wrote files: {err}"
            return
        docs = read_docbin(out, vocab=VOCAB)
        assert len(docs) == summary.n_docs >= 1
        assert summary.n_labelled + summary.n_unlabelled == summary.n_docs
        for doc in docs:
            assert not doc.cats or set(doc.cats) == set(summary.labels)


@settings(max_examples=60, **SETTINGS)
@given(
    case=any_input,
    out_how=st.sampled_from(["fresh", "input", "input_symlink"]),
    labels_how=st.sampled_from(["default", "separate", "output", "input"]),
    summary_how=st.sampled_from([None, "fresh", "output", "input"]),
    flag=st.sampled_from([[], ["--multi-label"], ["--exclusive"]]),
)
def test_cli_convert_exits_cleanly(case, out_how, labels_how, summary_how, flag):
    suffix, data = case
    with workdir() as tmp:
        src = tmp / f"in{suffix}"
        src.write_bytes(data)
        out = output_path(tmp, src, out_how)
        labels_out = labels_out_path(tmp, src, out, labels_how)
        summary = {None: None, "fresh": tmp / "s.json", "output": out, "input": src}[
            summary_how
        ]
        args = ["data", "convert", str(src), str(out), *flag]
        if labels_out is not None:
            args += ["--labels-out", str(labels_out)]
        if summary is not None:
            args += ["--summary", str(summary)]
        before = snapshot(tmp)
        result = CliRunner().invoke(app, args)
        event(f"exit {result.exit_code}")
        assert_clean_cli(result)
        assert src.read_bytes() == data
        assert not temporaries(tmp)
        if (
            out_how != "fresh"
            or labels_how in ("output", "input")
            or summary_how
            in (
                "output",
                "input",
            )
        ):
            assert result.exit_code == 1
        if result.exit_code == 1:
            assert snapshot(tmp) == before
        else:
            assert read_docbin(out, vocab=VOCAB)


# -------------------------------------------------------------------------- split


@st.composite
def corpora(draw):
    """Rows that convert accepts: one label kind, a few unlabelled rows at times."""
    kind = draw(st.sampled_from(["label", "labels", "cats"]))
    rows_ = draw(st.lists(valid_rows(kind), min_size=1, max_size=12))
    if draw(st.integers(0, 5)) == 0:
        at = draw(st.integers(0, len(rows_)))
        rows_.insert(at, draw(valid_rows("none")))
    return rows_


def make_corpus(tmp: Path, rows_) -> Path:
    src = tmp / "rows.jsonl"
    src.write_bytes(b"\n".join(dump_line(r, False) for r in rows_))
    corpus = tmp / "corpus" / "corpus.spacy"
    convert(src, corpus, labels_out=tmp / "corpus" / "labels.json")
    return corpus


def ids_of(docs) -> List[int]:
    return [doc.user_data[ID_KEY] for doc in docs]


@settings(max_examples=20, **SETTINGS)
@given(
    rows_=corpora(),
    n_labelled=st.integers(1, 4) | st.integers(-1, 14),
    n_dev=st.integers(0, 3) | st.integers(-1, 14),
    n_pool=st.none() | st.integers(-1, 14),
    seed=st.integers(0, 2**32 - 1),
    input_inside=st.sampled_from([None, None, None, *SPLIT_NAMES]),
)
def test_split_partitions_the_corpus_or_writes_nothing(
    rows_, n_labelled, n_dev, n_pool, seed, input_inside
):
    with workdir() as tmp:
        corpus = make_corpus(tmp, rows_)
        out_dir = tmp / "split"
        if input_inside is not None:  # the input is one of the outputs
            out_dir.mkdir()
            corpus = corpus.rename(out_dir / f"{input_inside}.spacy")
        original = read_docbin(corpus, vocab=VOCAB)
        n = len(original)
        corpus_bytes = corpus.read_bytes()
        before = snapshot(tmp)
        kwargs = dict(n_labelled=n_labelled, n_dev=n_dev, n_pool=n_pool, seed=seed)
        summary, err = attempt(split_corpus, corpus, out_dir, **kwargs)
        assert corpus.read_bytes() == corpus_bytes
        assert not temporaries(tmp)
        impossible = (
            input_inside is not None
            or any(not doc.cats for doc in original)
            or n_labelled < 1
            or n_dev < 0
            or n_labelled + n_dev >= n
            or (n_pool is not None and n_pool < 0)
        )
        assert (err is not None) == impossible, (err, n, kwargs)
        if err is not None:
            assert snapshot(tmp) == before
            return
        parts = {
            name: read_docbin(out_dir / f"{name}.spacy", vocab=VOCAB)
            for name in SPLIT_NAMES
        }
        labelled, dev, pool = (ids_of(parts[k]) for k in ("labelled", "dev", "pool"))
        assert len(labelled) == n_labelled and len(dev) == n_dev
        rest = n - n_labelled - n_dev
        assert len(pool) == (min(n_pool, rest) if n_pool else rest)
        assert len(set(labelled + dev + pool)) == len(labelled + dev + pool)
        assert set(labelled + dev + pool) <= set(range(n))
        if not n_pool or n_pool >= rest:
            assert set(labelled + dev + pool) == set(range(n))
        assert ids_of(parts["pool_gold"]) == pool
        assert all(not doc.cats for doc in parts["pool"])
        for name in ("labelled", "dev", "pool_gold"):
            for doc in parts[name]:
                assert doc.cats == original[doc.user_data[ID_KEY]].cats
                assert doc.text == original[doc.user_data[ID_KEY]].text
        for doc in parts["pool"]:
            assert doc.text == original[doc.user_data[ID_KEY]].text
        assert summary.counts == {k: len(v) for k, v in parts.items()}
        # the same seed: byte-identical files, elsewhere and (left alone) in place
        written = {
            name: (out_dir / f"{name}.spacy").read_bytes() for name in SPLIT_NAMES
        }
        split_corpus(corpus, tmp / "again", **kwargs)
        split_corpus(corpus, out_dir, **kwargs)
        for name in SPLIT_NAMES:
            assert (tmp / "again" / f"{name}.spacy").read_bytes() == written[name]
            assert (out_dir / f"{name}.spacy").read_bytes() == written[name]


@settings(max_examples=10, **SETTINGS)
@given(
    rows_=st.lists(valid_rows("label"), min_size=3, max_size=6),
    how=st.sampled_from(["random", "truncate", "flip"]),
    junk=st.binary(max_size=40),
    at=st.integers(0, 10**6),
)
def test_split_refuses_unreadable_docbins(rows_, how, junk, at):
    with workdir() as tmp:
        corpus = make_corpus(tmp, rows_)
        data = corpus.read_bytes()
        if how == "random":
            data = junk
        elif how == "truncate":
            data = data[: at % len(data)]
        else:
            i = at % len(data)
            data = data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]
        corpus.write_bytes(data)
        before = snapshot(tmp)
        summary, err = attempt(
            split_corpus, corpus, tmp / "split", n_labelled=1, n_dev=0
        )
        assert corpus.read_bytes() == data
        if err is not None:
            assert snapshot(tmp) == before


# ------------- pathological JSON and corrupt DocBins (found by hypothesis, now fixed)

huge_ints = st.integers(4301, 6000).map(lambda n: "1" * n)
deep_json = st.builds(
    lambda depth, brace: (
        ('{"k": ' * depth + "1" + "}" * depth) if brace else "[" * depth + "]" * depth
    ),
    st.integers(1000, 3000),
    st.booleans(),
)
pathological = st.one_of(huge_ints, deep_json)


@settings(max_examples=20, **PATHOLOGICAL)
@given(
    value=pathological,
    key=st.sampled_from(["label", "labels", "cats", "id", "x"]),
    fmt=st.sampled_from(["jsonl", "csv"]),
)
def test_read_records_refuses_huge_numbers_and_deep_nesting(value, key, fmt):
    with workdir() as tmp:
        if fmt == "jsonl":
            src = tmp / "in.jsonl"
            src.write_text(f'{{"text": "a", "{key}": {value}}}\n', encoding="utf-8")
        else:
            src = tmp / "in.csv"
            cell = value if key != "labels" or value.startswith("[") else f"[{value}]"
            column = key if key in ("labels", "cats") else "cats"
            src.write_text(f'text,{column}\na,"{cell.replace(chr(34), 2 * chr(34))}"\n')
        # a clean refusal, or (deep nesting Python can parse) a read: no traceback
        try:
            list(read_records(src))
        except DataError:
            pass


@settings(max_examples=10, **PATHOLOGICAL)
@given(value=pathological)
def test_cli_convert_refuses_huge_numbers_and_deep_nesting(value):
    with workdir() as tmp:
        src = tmp / "in.jsonl"
        src.write_text(f'{{"text": "a", "label": "a", "x": {value}}}\n')
        result = CliRunner().invoke(
            app, ["data", "convert", str(src), str(tmp / "out" / "o.spacy")]
        )
        assert_clean_cli(result)
        assert result.exit_code in (0, 1)
        if value.startswith("1"):  # an int Python refuses to convert
            assert result.exit_code == 1


def _mutate_docbin(data: bytes, how: str, at: int) -> bytes:
    msg = srsly.msgpack_loads(zlib.decompress(data))
    msg = copy.deepcopy(msg)
    n = len(msg["cats"])
    if how == "cats_short":
        msg["cats"] = msg["cats"][: at % n]
    elif how == "strings_dropped":
        msg["strings"] = []
    elif how == "cats_not_dict":
        msg["cats"][at % n] = [5, "x", [1]][at % 3]
    return zlib.compress(srsly.msgpack_dumps(msg))


@settings(max_examples=12, **PATHOLOGICAL)
@given(
    rows_=st.lists(valid_rows("label"), min_size=3, max_size=6),
    how=st.sampled_from(["cats_short", "strings_dropped", "cats_not_dict"]),
    at=st.integers(0, 100),
)
def test_split_refuses_structurally_corrupt_docbins(rows_, how, at):
    with workdir() as tmp:
        corpus = make_corpus(tmp, rows_)
        data = _mutate_docbin(corpus.read_bytes(), how, at)
        corpus.write_bytes(data)
        before = snapshot(tmp)
        with pytest.raises(DataError):
            split_corpus(corpus, tmp / "split", n_labelled=1, n_dev=0)
        assert corpus.read_bytes() == data
        assert snapshot(tmp) == before
