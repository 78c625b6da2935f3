"""VADER sentiment corpora (``data prepare --dataset vader-movies``) from a tiny fake
copy of the vaderSentiment 3.3.2 sdist: the same nested layout, no network."""

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import spacy
from helpers import refused, snapshot
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.docbin import ID_KEY
from spacy_kd.data.vader import (
    INNER_ARCHIVE,
    INNER_DIR,
    MEMBERS,
    SDIST_NAME,
    build_vader,
    parse_ground_truth,
)
from spacy_kd.errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TOP = "vaderSentiment-3.3.2"
WHERE = f"{TOP}/{INNER_ARCHIVE}!{INNER_DIR}"  # how errors name a ground-truth file


def tsv(rows) -> bytes:
    """Ground-truth bytes as the sdist has them: CRLF lines, no final newline."""
    return "\r\n".join(f"{i}\t{mean}\t{text}" for i, mean, text in rows).encode()


def movie_rows() -> List[tuple]:
    """30 positive, 20 negative, 2 neutral, and a repeat of a positive text."""
    rows = [(i, 1.5, f"movie {i} was lovely") for i in range(1, 31)]
    rows += [(i, -2.25, f"movie {i} was dreadful") for i in range(31, 51)]
    rows += [(51, 0, "a film"), (52, 0.0, "another film")]
    rows += [(53, 0.4, "movie 3 was lovely")]
    return rows


def ground_truth(**replace: bytes) -> Dict[str, bytes]:
    files = {
        "vader-movies": tsv(movie_rows()),
        "vader-amazon": tsv(
            [
                ("1_1", 1.1, "works great"),
                ("1_2", -0.9, "broke in a week"),
                ("1_3", 0, "it is a phone"),
                ("2_1", 2.5, "love it"),
            ]
        ),  # fmt: skip
        "vader-tweets": tsv([(1, -3.2, "worst day ever"), (2, 2.7, "so lucky :)")]),
        "vader-nyt": tsv(
            [
                ("1_1", 0.0, "The mayor spoke."),
                ("1_2", -1.5, "A grim budget."),
                ("1_3", 0.75, "A fine plan."),
            ]
        ),  # fmt: skip
    }
    files.update(replace)
    return files


def make_sdist(
    path: Path, files: Optional[Dict[str, bytes]] = None, top: str = TOP
) -> Path:
    """A .tar.gz with the sdist's layout: TOP/additional_resources/hutto_ICWSM_2014
    .tar.gz holding hutto_ICWSM_2014/*_GroundTruth.txt (and a raters' file)."""
    files = ground_truth() if files is None else files
    members = {f"{INNER_DIR}/{MEMBERS[name]}": data for name, data in files.items()}
    members[f"{INNER_DIR}/tweets_anonDataRatings.txt"] = b"1\t0.5\t0.4\t[1, 0]\r\n"
    inner = _targz(members)
    outer = {f"{top}/setup.py": b"", f"{top}/{INNER_ARCHIVE}": inner}
    path.write_bytes(_targz(outer))
    return path


def _targz(members: Dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def load(path):
    doc_bin = DocBin(store_user_data=True).from_disk(path)
    return list(doc_bin.get_docs(spacy.blank("en").vocab))


def label(doc) -> str:
    assert sorted(doc.cats) == ["negative", "positive"]
    assert sorted(doc.cats.values()) == [0.0, 1.0]
    return max(doc.cats, key=doc.cats.get)


@pytest.fixture
def sdist(tmp_path) -> Path:
    return make_sdist(tmp_path / SDIST_NAME)


def test_parse_ground_truth_labels_and_neutrals():
    data = b"\xef\xbb\xbf" + tsv(
        [(7, "2.26666666667", "Good ''fun''."), (8, "-0.6", "Tepid"), (9, "0", "Ok")]
    )
    rows, neutral = parse_ground_truth(data + b"\r\n\r\n", "f.txt")
    assert neutral == 1
    assert [(r.index, r.line, r.id, r.label, r.text) for r in rows] == [
        (0, 1, "7", "positive", "Good ''fun''."),
        (1, 2, "8", "negative", "Tepid"),
    ]
    assert rows[0].mean == pytest.approx(2.26666666667)
    with pytest.raises(DataError, match="no rated"):
        parse_ground_truth(tsv([(1, 0, "neutral")]), "f.txt")


@pytest.mark.parametrize(
    "bad, problem",
    [
        (b"3\t1.0 no text", "3 cells"),
        (b"3\t1.0\ttext\textra", "3 cells"),
        (b"3\tgood\ttext", "not a number"),
        (b"3\tnan\ttext", "not a number"),
        (b"3\t4.5\ttext", "from -4 to 4"),
        (b"3\t1.0\t  ", "empty id or text"),
        (b"3\t1.0\tna\xefve", "cannot decode as UTF-8"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path, bad, problem):
    good = tsv([(1, 1.0, "fine"), (2, -1.0, "bad")])
    with pytest.raises(DataError, match=problem) as err:
        parse_ground_truth(good + b"\r\n" + bad, "f.txt")
    assert str(err.value).startswith("f.txt:3: ")
    tweets = good + b"\r\n" + bad
    path = make_sdist(tmp_path / "bad.tar.gz", ground_truth(**{"vader-tweets": tweets}))
    with pytest.raises(DataError, match=problem) as err:
        build_vader(path, tmp_path / "out")
    assert str(err.value).startswith(f"{path}!{WHERE}/tweets_GroundTruth.txt:3: ")
    assert not (tmp_path / "out").exists()


def test_unreadable_sdists(tmp_path):
    files = ground_truth()
    del files["vader-nyt"]
    path = make_sdist(tmp_path / "no_nyt.tar.gz", files)
    with pytest.raises(DataError, match="has no hutto_ICWSM_2014/nytEditorial"):
        build_vader(path, tmp_path / "out")
    not_tar = tmp_path / "nope.tar.gz"
    not_tar.write_bytes(b"PK\x03\x04 a wheel, not an sdist")
    with pytest.raises(DataError, match="not a readable sdist"):
        build_vader(not_tar, tmp_path / "out")
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(_targz({f"{TOP}/setup.py": b""}))
    with pytest.raises(DataError, match="the sdist has no"):
        build_vader(empty, tmp_path / "out")
    with pytest.raises(DataError, match="sdist file not found"):
        build_vader(tmp_path / "missing.tar.gz", tmp_path / "out")


def test_movies_split_sizes_stratified_and_seeded(sdist, tmp_path):
    summary, files = build_vader(sdist, tmp_path, n_test=10, seed=0)
    assert summary.rows["vader-movies"] == 53
    assert summary.dropped_neutral["vader-movies"] == 2
    assert summary.dropped_duplicates == {"vader-movies": 1}  # the repeated text
    assert summary.counts["train"] == 40 and summary.counts["test"] == 10
    # 30 positive : 20 negative, shared in proportion
    assert summary.label_counts["test"] == {"negative": 4, "positive": 6}
    assert summary.label_counts["train"] == {"negative": 16, "positive": 24}
    (tmp_path / "extra").mkdir()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    train, test = load(tmp_path / "train.spacy"), load(tmp_path / "test.spacy")
    assert Counter(label(d) for d in test) == {"positive": 6, "negative": 4}
    # each doc's id is its row's position in the file; its label the mean's sign
    by_id = {i: row for i, row in enumerate(movie_rows())}
    ids = [d.user_data[ID_KEY] for d in train + test]
    assert sorted(ids) == list(range(50))  # neutrals (50, 51), repeat (52) dropped
    for doc in train + test:
        _, mean, text = by_id[doc.user_data[ID_KEY]]
        assert doc.text == text and label(doc) == (
            "positive" if mean > 0 else "negative"
        )
    again = build_vader(sdist, tmp_path, n_test=10, seed=0)
    assert again[1] == files  # the same seed: the same bytes
    other = build_vader(sdist, tmp_path, n_test=10, seed=1)[1]
    assert other["test.spacy"] != files["test.spacy"]
    with pytest.raises(DataError, match="too few for 50 test docs"):
        build_vader(sdist, tmp_path, n_test=50)


def test_extra_sets_keep_the_labels_and_drop_neutrals(sdist, tmp_path):
    summary, files = build_vader(sdist, tmp_path, n_test=10)
    assert list(summary.counts) == [
        "train", "test", "vader-amazon", "vader-tweets", "vader-nyt",
    ]  # fmt: skip
    assert summary.dropped_neutral == {
        "vader-movies": 2, "vader-amazon": 1, "vader-tweets": 0, "vader-nyt": 1,
    }  # fmt: skip
    assert summary.label_counts["vader-amazon"] == {"negative": 1, "positive": 2}
    assert summary.label_counts["vader-tweets"] == {"negative": 1, "positive": 1}
    assert summary.label_counts["vader-nyt"] == {"negative": 1, "positive": 1}
    assert summary.mean_words["vader-tweets"] == 3.0
    path = tmp_path / "nyt.spacy"
    path.write_bytes(files["extra/vader-nyt.spacy"])
    docs = load(path)
    assert [(d.text, label(d), d.user_data[ID_KEY]) for d in docs] == [
        ("A grim budget.", "negative", 1),
        ("A fine plan.", "positive", 2),
    ]


def prepare(out, *args):
    return CliRunner().invoke(
        app, ["data", "prepare", str(out), *[str(a) for a in args]]
    )


def test_prepare_cli_writes_the_corpus_and_its_summary(sdist, tmp_path):
    out = tmp_path / "corpus"
    assets = tmp_path / "assets"
    args = [
        "--dataset",
        "vader-movies",
        "--wheel-or-sdist",
        sdist,
        "--cache-dir",
        assets,
        "--n-test",
        10,
    ]
    result = prepare(out, *args)
    assert result.exit_code == 0, result.output
    assert "Dropped neutral snippets (mean rating 0): vader-movies 2" in result.output
    assert not assets.exists()  # the given sdist: no download
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == [
        "extra/vader-amazon.spacy", "extra/vader-nyt.spacy", "extra/vader-tweets.spacy",
        "fetch.json", "labels.json", "test.spacy", "train.spacy",
    ]  # fmt: skip
    fetched = json.loads((out / "fetch.json").read_text())
    assert fetched["source_sha256"] == hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert fetched["source_file"] == SDIST_NAME
    assert "MIT" in fetched["licence"] and "Hutto" in fetched["citation"]
    assert fetched["counts"]["test"] == len(load(out / "test.spacy"))
    assert fetched["counts"]["train"] + fetched["counts"]["test"] == 50
    assert sorted(fetched["files"]) == sorted(
        str(out / name) for name in written if name != "fetch.json"
    )
    assert json.loads((out / "labels.json").read_text()) == {
        "labels": ["negative", "positive"],
        "multi_label": False,
    }
    assert len(load(out / "extra" / "vader-amazon.spacy")) == 3
    # the same run again changes nothing; a different corpus needs --overwrite
    before = snapshot(out)
    assert prepare(out, *args).exit_code == 0 and snapshot(out) == before
    rows = ground_truth(**{"vader-tweets": tsv([(1, -1.0, "meh"), (2, 1.0, "yay")])})
    changed = make_sdist(tmp_path / "changed.tar.gz", rows)
    args[3] = changed
    refused(prepare(out, *args), out / "extra" / "vader-tweets.spacy", "--overwrite")
    assert snapshot(out) == before
    assert prepare(out, *args, "--overwrite").exit_code == 0
    assert load(out / "extra" / "vader-tweets.spacy")[0].text == "meh"


def test_prepare_through_python_m(sdist, tmp_path):
    out = tmp_path / "corpus"
    cmd = [sys.executable, "-m", "spacy_kd", "data", "prepare", str(out),
           "--dataset", "vader-movies", "--wheel", str(sdist),
           "--n-test", "10", "--seed", "3"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "vader-tweets: 2 docs" in result.stdout
    assert (out / "extra" / "vader-nyt.spacy").exists()
    fetched = json.loads((out / "fetch.json").read_text())
    assert fetched["seed"] == 3 and fetched["counts"]["test"] == 10


def test_unknown_dataset_lists_the_choices(tmp_path):
    out = tmp_path / "corpus"
    result = prepare(out, "--dataset", "imdb")
    assert result.exit_code == 1
    assert "unknown dataset 'imdb'; choose one of: 20newsgroups, vader-movies" in (
        result.output
    )
    result = prepare(out, "--dataset", "vader-tweets")
    assert result.exit_code == 1
    assert "vader-tweets is a test set written with vader-movies" in result.output
    assert not out.exists()


def test_dataset_and_own_files_conflict(sdist, tmp_path, data_dir):
    out = tmp_path / "corpus"
    train, test = data_dir / "20ng_train.jsonl", data_dir / "20ng_test.jsonl"
    for dataset in ("vader-movies", "20newsgroups"):
        result = prepare(
            out, "--dataset", dataset, "--train", train, "--test", test,
            "--wheel-or-sdist", sdist,
        )  # fmt: skip
        assert result.exit_code == 1
        assert f"--dataset {dataset} and --train/--test name two corpora" in (
            result.output
        )
    result = prepare(out, "--dataset", "20newsgroups", "--seed", 1)
    assert result.exit_code == 1
    assert "--n-test and --seed split --dataset vader-movies only" in result.output
    assert not out.exists()


def test_a_wheel_is_not_an_sdist(tmp_path, mini_wheel):
    result = prepare(
        tmp_path / "corpus", "--dataset", "vader-movies", "--wheel", mini_wheel
    )
    refused(result, mini_wheel, "not a readable sdist (tar.gz) file")
    assert not (tmp_path / "corpus").exists()


def cached_sdist() -> Optional[Path]:
    """The real sdist if an earlier ``data prepare`` left it in assets/."""
    found = [
        p for p in (REPO_ROOT / "assets").glob("*")
        if p.name.lower() == SDIST_NAME.lower()
    ]  # fmt: skip
    return found[0] if found else None


@pytest.mark.slow
@pytest.mark.skipif(
    cached_sdist() is None, reason=f"no {SDIST_NAME} in assets/ (tests never download)"
)
def test_the_real_sdist(tmp_path):
    summary, _ = build_vader(cached_sdist(), tmp_path)
    assert summary.rows == {
        "vader-movies": 10605, "vader-amazon": 3708,
        "vader-tweets": 4200, "vader-nyt": 5190,
    }  # fmt: skip
    assert summary.dropped_neutral == {
        "vader-movies": 37, "vader-amazon": 98, "vader-tweets": 4, "vader-nyt": 244,
    }  # fmt: skip
    assert summary.counts == {
        "train": 7566, "test": 3000,
        "vader-amazon": 3610, "vader-tweets": 4196, "vader-nyt": 4946,
    }  # fmt: skip
    assert summary.mean_words["train"] < 40 and summary.mean_words["test"] < 40
    test = summary.label_counts["test"]
    assert abs(test["positive"] - test["negative"]) < 0.05 * 3000
