"""Seeded stratified split into labelled budget, dev set and unlabelled pool."""

from collections import Counter
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_kd.data import convert, split_corpus
from spacy_kd.data.docbin import ID_KEY
from spacy_kd.data.split import allocate
from spacy_kd.errors import DataError


def load(path):
    nlp = spacy.blank("en")
    return list(DocBin(store_user_data=True).from_disk(path).get_docs(nlp.vocab))


def gold_label(doc):
    return max(doc.cats, key=doc.cats.get)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("split")
    path = tmp / "train.spacy"
    convert(Path(__file__).parent.parent / "fixtures" / "20ng_train.jsonl", path)
    return path


def test_allocate_is_proportional_and_exact():
    assert allocate({"a": 50, "b": 30, "c": 20}, 10) == {"a": 5, "b": 3, "c": 2}
    alloc = allocate({"a": 1, "b": 1, "c": 1}, 2)
    assert sum(alloc.values()) == 2 and max(alloc.values()) == 1
    with pytest.raises(ValueError):
        allocate({"a": 1}, 2)


def test_split_sizes_strata_and_pool(tmp_path, corpus):
    summary = split_corpus(corpus, tmp_path, n_labelled=40, n_dev=20, seed=3)
    assert summary.counts == {"labelled": 40, "dev": 20, "pool_gold": 140, "pool": 140}
    labelled, dev = load(tmp_path / "labelled.spacy"), load(tmp_path / "dev.spacy")
    pool, pool_gold = load(tmp_path / "pool.spacy"), load(tmp_path / "pool_gold.spacy")
    # 20 classes of 10 docs: stratification gives exactly 2 labelled and 1 dev per class
    assert set(Counter(map(gold_label, labelled)).values()) == {2}
    assert set(Counter(map(gold_label, dev)).values()) == {1}
    # every input doc lands in exactly one of labelled / dev / pool
    ids = [d.user_data[ID_KEY] for d in labelled + dev + pool]
    assert sorted(ids) == list(range(200))
    # the pool has no labels; pool_gold is the same docs, same order, with labels
    assert all(d.cats == {} for d in pool)
    assert [d.text for d in pool] == [d.text for d in pool_gold]
    assert [d.user_data[ID_KEY] for d in pool] == [
        d.user_data[ID_KEY] for d in pool_gold
    ]
    original = load(corpus)
    for d in pool_gold:
        assert d.cats == original[d.user_data[ID_KEY]].cats


def test_split_is_seeded(tmp_path, corpus):
    split_corpus(corpus, tmp_path / "a", n_labelled=40, n_dev=20, seed=1)
    split_corpus(corpus, tmp_path / "b", n_labelled=40, n_dev=20, seed=1)
    split_corpus(corpus, tmp_path / "c", n_labelled=40, n_dev=20, seed=2)
    for name in ("labelled", "dev", "pool"):
        a = (tmp_path / "a" / f"{name}.spacy").read_bytes()
        assert a == (tmp_path / "b" / f"{name}.spacy").read_bytes()
    ids = [d.user_data[ID_KEY] for d in load(tmp_path / "a" / "labelled.spacy")]
    other = [d.user_data[ID_KEY] for d in load(tmp_path / "c" / "labelled.spacy")]
    assert ids != other


def test_pool_cap(tmp_path, corpus):
    summary = split_corpus(corpus, tmp_path, n_labelled=40, n_dev=20, n_pool=25)
    assert summary.counts["pool"] == summary.counts["pool_gold"] == 25
    whole = split_corpus(corpus, tmp_path / "whole", n_labelled=40, n_dev=20, n_pool=0)
    default = split_corpus(corpus, tmp_path / "default", n_labelled=40, n_dev=20)
    assert whole.counts["pool"] == default.counts["pool"] > 25
    with pytest.raises(DataError, match="--n-pool must be >= 0"):
        split_corpus(corpus, tmp_path / "bad", n_labelled=40, n_dev=20, n_pool=-1)


def test_split_bad_requests(tmp_path, corpus):
    with pytest.raises(DataError, match="too few for 150 labelled"):
        split_corpus(corpus, tmp_path, n_labelled=150, n_dev=50)
    unlabelled = tmp_path / "u.jsonl"
    unlabelled.write_text('{"text": "a", "label": "x"}\n{"text": "b"}\n')
    convert(unlabelled, tmp_path / "u.spacy")
    with pytest.raises(DataError, match="doc 1 has no labels"):
        split_corpus(tmp_path / "u.spacy", tmp_path / "out", n_labelled=1, n_dev=0)
    junk = tmp_path / "junk.spacy"
    junk.write_bytes(b"not a docbin")
    with pytest.raises(DataError, match="not a readable DocBin"):
        split_corpus(junk, tmp_path / "out", n_labelled=1, n_dev=0)
    assert not (tmp_path / "out").exists()
