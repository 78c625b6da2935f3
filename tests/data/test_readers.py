"""spacy-kd.TextCatCorpus.v1 feeds JSONL straight into `spacy train`."""

import subprocess
import sys

import spacy
from spacy.util import registry

from spacy_kd.data import convert

CONFIG = """
[paths]
train = null
dev = null
labels = null

[nlp]
lang = "en"
pipeline = ["textcat"]

[components]

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
ngram_size = 1
no_output_layer = false

[corpora]

[corpora.train]
@readers = "spacy-kd.TextCatCorpus.v1"
path = ${paths.train}
labels = ${paths.labels}

[corpora.dev]
@readers = "spacy-kd.TextCatCorpus.v1"
path = ${paths.dev}
labels = ${paths.labels}

[training]
max_steps = 6
eval_frequency = 3

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
size = 2000
"""


def test_reader_yields_examples_from_jsonl(tmp_path, data_dir):
    convert(data_dir / "20ng_train.jsonl", tmp_path / "train.spacy")
    reader = registry.get("readers", "spacy-kd.TextCatCorpus.v1")(
        path=data_dir / "20ng_test.jsonl", labels=tmp_path / "labels.json", limit=7
    )
    examples = list(reader(spacy.blank("en")))
    assert len(examples) == 7
    assert all(len(eg.reference.cats) == 20 for eg in examples)
    assert all(eg.predicted.cats == {} for eg in examples)
    assert examples[0].predicted.text == examples[0].reference.text


def test_spacy_train_resolves_reader_without_code(tmp_path, data_dir):
    convert(data_dir / "20ng_train.jsonl", tmp_path / "train.spacy")
    base, cfg = tmp_path / "base.cfg", tmp_path / "config.cfg"
    base.write_text(CONFIG)
    fill = [sys.executable, "-m", "spacy", "init", "fill-config", str(base), str(cfg)]
    result = subprocess.run(fill, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    cmd = [
        sys.executable, "-m", "spacy", "train", str(cfg),
        "--output", str(tmp_path / "out"),
        "--paths.train", str(data_dir / "20ng_train.jsonl"),
        "--paths.dev", str(data_dir / "20ng_test.jsonl"),
        "--paths.labels", str(tmp_path / "labels.json"),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert len(nlp.get_pipe("textcat").labels) == 20
