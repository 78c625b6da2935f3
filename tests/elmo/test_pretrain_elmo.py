"""``pretrain-elmo``: the tiny preset on the fixture texts, checkpoints, --resume."""

import json
import math
import subprocess
import sys

import h5py
import numpy
import pytest
import spacy
import torch
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.elmo.char_ids import batch_to_char_ids
from spacy_kd.elmo.file_format import load_bilm_dir
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pretrain import (
    SPECIAL_TOKENS,
    LmWindows,
    PretrainSettings,
    build_vocab,
    epoch_batches,
    pretrain_elmo,
    read_token_lists,
    read_vocab,
    split_heldout,
    unigram_perplexity,
)
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.language_model import ElmoLanguageModel
from spacy_kd.errors import DataError

# small enough for seconds: ~1,500 training tokens per epoch
FAST = {"max_tokens_per_epoch": 1500, "max_heldout_tokens": 400, "epochs": 2}


@pytest.fixture(autouse=True)
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def corpus(data_dir):
    return data_dir / "20ng_test.jsonl"


def run(corpus, out, **kwargs):
    kwargs.setdefault("overrides", FAST)
    kwargs.setdefault("show_progress", False)
    return pretrain_elmo(corpus, out, preset="tiny", log=lambda m: None, **kwargs)


def checkpoint_bilm_state(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {
        k[len("bilm.") :]: v for k, v in state["model"].items() if k.startswith("bilm.")
    }


def hdf5_arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda n, o: (
                out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) else None
            )
        )
    return out


def test_tiny_run_writes_files_that_load_back_bit_identical(corpus, tmp_path):
    out = tmp_path / "elmo"
    summary = run(corpus, out)
    for name in (
        "options.json",
        "weights.hdf5",
        "vocab.txt",
        "metrics.json",
        "checkpoint.pt",
    ):
        assert (out / name).is_file(), name
    # the trained biLM, as written in allennlp's layout, is the checkpoint's exactly
    loaded = load_bilm_dir(out).state_dict()
    trained = checkpoint_bilm_state(out / "checkpoint.pt")
    assert loaded.keys() == trained.keys()
    for key in loaded:
        assert torch.equal(loaded[key], trained[key]), key
    options = json.loads((out / "options.json").read_text())
    assert (
        options["lstm"]["projection_dim"] == 16
        and options["lstm"]["use_skip_connections"]
    )
    assert options["char_cnn"]["filters"] == [[1, 8], [2, 8], [3, 16]]
    vocab = read_vocab(out / "vocab.txt")
    assert (
        tuple(vocab[:3]) == SPECIAL_TOKENS and len(vocab) == summary.vocab_size == 300
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    for epoch in metrics["epochs"]:
        assert 1 < epoch["heldout_ppl"] < summary.vocab_size
        assert epoch["heldout_ppl"] == pytest.approx(
            math.sqrt(epoch["heldout_ppl_forward"] * epoch["heldout_ppl_backward"])
        )
        assert epoch["unigram_ppl"] == metrics["unigram_ppl"]
    assert metrics["epochs"][1]["train_loss"] < metrics["epochs"][0]["train_loss"]
    assert (
        summary.n_heldout_docs >= 1
        and summary.n_train_docs + summary.n_heldout_docs == 100
    )


def test_resume_mid_epoch_and_across_epochs_matches_an_uninterrupted_run(
    corpus, tmp_path
):
    run(corpus, tmp_path / "straight", show_progress=True)  # the tqdm path too
    reference = hdf5_arrays(tmp_path / "straight" / "weights.hdf5")

    # interrupted in the middle of the first epoch, then resumed
    run(corpus, tmp_path / "interrupted", stop_after_steps=3)
    assert not (tmp_path / "interrupted" / "weights.hdf5").exists()
    state = torch.load(tmp_path / "interrupted" / "checkpoint.pt", weights_only=True)
    assert (state["epoch"], state["batch"], state["global_step"]) == (0, 3, 3)
    run(corpus, tmp_path / "interrupted", resume=True)
    # stopped after the first epoch, resumed with more epochs
    run(corpus, tmp_path / "extended", overrides={**FAST, "epochs": 1})
    run(corpus, tmp_path / "extended", overrides={"epochs": 2}, resume=True)

    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    for name in ("interrupted", "extended"):
        arrays = hdf5_arrays(tmp_path / name / "weights.hdf5")
        assert arrays.keys() == reference.keys()
        for key in arrays:
            assert numpy.array_equal(arrays[key], reference[key]), (name, key)
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert [e["heldout_ppl"] for e in metrics["epochs"]] == [
            e["heldout_ppl"] for e in straight["epochs"]
        ]


def test_run_guards(corpus, tmp_path):
    out = tmp_path / "elmo"
    with pytest.raises(DataError, match="no checkpoint to resume from"):
        run(corpus, out, resume=True)
    run(corpus, out, overrides={**FAST, "epochs": 1})
    with pytest.raises(DataError, match="already holds a pretraining run"):
        run(corpus, out)
    with pytest.raises(DataError, match="cannot change it"):
        run(corpus, out, overrides={"epochs": 2, "cell_dim": 64}, resume=True)
    with pytest.raises(DataError, match="the preset 'tiny'"):
        pretrain_elmo(corpus, out, preset="small", resume=True, show_progress=False)
    with pytest.raises(DataError, match="already finished its 1 epochs"):
        run(corpus, out, overrides={}, resume=True)
    other = tmp_path / "other.txt"
    other.write_text("a different corpus\nof two lines\n")
    with pytest.raises(DataError, match="not the corpus this checkpoint"):
        run(other, out, overrides={"epochs": 2}, resume=True)
    one = tmp_path / "one.txt"
    one.write_text("only one document here\n")
    with pytest.raises(DataError, match="at least 2 documents"):
        run(one, tmp_path / "x")
    with pytest.raises(ValueError, match="unknown pretraining setting 'cells'"):
        run(corpus, tmp_path / "y", overrides={"cells": 3})
    with pytest.raises(ValueError, match="'dropout' must be in"):
        run(corpus, tmp_path / "y", overrides={"dropout": 1.5})


def test_corpus_formats_agree(data_dir, tmp_path):
    rows = [json.loads(line) for line in (data_dir / "20ng_test.jsonl").open()][:5]
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(r["text"] for r in rows) + "\n")
    nlp = spacy.blank("en")
    DocBin(docs=[nlp(r["text"]) for r in rows]).to_disk(tmp_path / "corpus.spacy")
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows))
    expected = read_token_lists(jsonl)
    assert len(expected) == 5 and all(expected)
    assert read_token_lists(text) == expected
    assert read_token_lists(tmp_path / "corpus.spacy") == expected
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": "oops"}\n')
    with pytest.raises(DataError, match=r"bad.jsonl:2: missing the 'text' field"):
        read_token_lists(bad)


def test_unigram_perplexity_by_hand():
    train = LmWindows([["a"] * 3], [numpy.array([3, 3, 4])])
    heldout = LmWindows([["a"] * 2], [numpy.array([3, 4])])
    # add-one over 5 ids: p(3) = 3/8, p(4) = 2/8
    expected = math.exp(-(math.log(3 / 8) + math.log(2 / 8)) / 2)
    assert unigram_perplexity(train, heldout, 5) == pytest.approx(expected)


def test_vocab_windows_split_and_batches_are_deterministic():
    docs = [["b", "a", "b", "c"], ["a", "b"], ["d"]]
    vocab = build_vocab(docs, size=5)
    assert vocab == ["</S>", "<S>", "<UNK>", "b", "a"]  # b: 3, a: 2, then c/d cut
    index = {w: i for i, w in enumerate(vocab)}
    windows = LmWindows.build(docs, index, window=3)
    assert [list(t) for t in windows.tokens] == [
        ["b", "a", "b"],
        ["c"],
        ["a", "b"],
        ["d"],
    ]
    assert [t.tolist() for t in windows.targets] == [[3, 4, 3], [2], [4, 3], [2]]
    train, heldout = split_heldout(50, 0.1, seed=3)
    assert len(heldout) == 5 and sorted(train + heldout) == list(range(50))
    assert split_heldout(50, 0.1, seed=3) == (train, heldout)
    lengths = [5, 1, 3, 5, 2, 4, 5]
    batches = epoch_batches(lengths, 2, seed=0, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(7))
    assert epoch_batches(lengths, 2, seed=0, epoch=0) == batches
    assert epoch_batches(lengths, 2, seed=0, epoch=1) != batches
    capped = epoch_batches(lengths, 2, seed=0, epoch=0, max_tokens=9)
    assert 9 <= sum(lengths[i] for b in capped for i in b) < 9 + 5


def test_each_direction_sees_only_its_own_context():
    torch.manual_seed(0)
    options = ElmoOptions(
        filters=[(1, 4), (2, 4)], projection_dim=6, cell_dim=8, n_layers=2
    )
    lm = ElmoLanguageModel(ElmoBiLm(options), 10, cutoffs=[4]).eval()
    a = ["the", "cat", "sat", "on", "mats"]
    b = ["the", "cat", "ran", "off", "now"]  # differs from position 2 on
    ids = torch.from_numpy(batch_to_char_ids([a, b]))
    lengths = torch.tensor([5, 5])
    with torch.no_grad():
        forward, backward = lm.states(ids, lengths)
    fa, fb = forward[:5], forward[5:]
    ba, bb = backward[:5], backward[5:]

    def same(x, y):
        return torch.allclose(x, y, rtol=0, atol=1e-6)

    def differ(x, y):
        return (x - y).abs().max().item() > 1e-4

    # the forward state for token j has read tokens < j: the same up to j = 2
    assert same(fa[:3], fb[:3]) and differ(fa[3], fb[3])
    # the backward state for token j has read tokens > j: they differ from 1 on
    assert differ(ba[1], bb[1])
    c = ["dog", "cat", "sat", "on", "mats"]  # differs from a at position 0 only
    with torch.no_grad():
        forward_c, backward_c = lm.states(
            torch.from_numpy(batch_to_char_ids([c])), torch.tensor([5])
        )
    assert same(ba, backward_c) and differ(forward[1], forward_c[1])


def test_cli_and_python_m(data_dir, tmp_path):
    rows = [
        json.loads(line)["text"] for line in (data_dir / "20ng_train.jsonl").open()
    ][:40]
    text = tmp_path / "corpus.txt"
    text.write_text("\n".join(rows) + "\n")
    args = ["--preset", "tiny", "--epochs", "1", "--max-tokens-per-epoch", "600",
            "--max-heldout-tokens", "200", "--no-progress"]  # fmt: skip
    result = CliRunner().invoke(
        app, ["pretrain-elmo", str(text), str(tmp_path / "cli"), *args,
              "--cell-dim", "24", "--filters", "1:4,2:6",
              "--summary", str(tmp_path / "summary.json")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "held-out perplexity" in result.output
    options = json.loads((tmp_path / "cli" / "options.json").read_text())
    assert options["lstm"]["dim"] == 24 and options["char_cnn"]["filters"] == [
        [1, 4],
        [2, 6],
    ]
    assert (
        json.loads((tmp_path / "summary.json").read_text())["epochs"][0]["epoch"] == 1
    )
    again = CliRunner().invoke(
        app, ["pretrain-elmo", str(text), str(tmp_path / "cli"), *args]
    )
    assert again.exit_code == 1 and "--resume" in again.output
    bad = CliRunner().invoke(
        app, ["pretrain-elmo", str(text), str(tmp_path / "b"), "--filters", "1x4"]
    )
    assert bad.exit_code != 0 and "WIDTH:NUMBER" in bad.output
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "pretrain-elmo", str(text),
         str(tmp_path / "m"), "--resume", "--preset", "tiny"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        == f"✘ {tmp_path / 'm' / 'checkpoint.pt'}: no checkpoint to resume from"
    )
    assert (
        PretrainSettings.from_preset(
            "tiny", {"max_tokens_per_epoch": 0}
        ).max_tokens_per_epoch
        is None
    )
