"""A tiny gold + pseudo-labelled corpus on disk, from the real 20 Newsgroups fixture.

Shared by the corpus reader and end-to-end tests in this folder.
"""

import json
import math
from pathlib import Path

import numpy
import spacy
from spacy.tokens import DocBin

from spacy_kd.annotate.pseudo import mark_pseudo

REPO = Path(__file__).resolve().parent.parent.parent
DATA = REPO / "tests" / "fixtures" / "20ng_train.jsonl"
LABELS = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.politics.mideast"]


def softmax(z):
    e = numpy.exp(z - z.max())
    return e / e.sum()


def sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def rows():
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["label"] in LABELS:
            out.append((" ".join(row["text"].split()[:50]), row["label"]))
    return out


def write_corpus(
    tmp_path, n_gold=8, n_shards=2, multi_label=False, mutate=None, teachers=None
):
    """gold.spacy plus pseudo/shard-*.spacy.

    ``mutate(doc, i)`` may spoil pseudo docs. teachers: their names and weights in
    the records (default: one teacher ``t``), each with its own noise.
    """
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)
    data = rows()
    gold = []
    for text, label in data[:n_gold]:
        doc = nlp.make_doc(text)
        doc.cats = {k: float(k == label) for k in LABELS}
        gold.append(doc)
    DocBin(docs=gold, store_user_data=True).to_disk(tmp_path / "gold.spacy")
    pseudo = []
    for i, (text, label) in enumerate(data[n_gold:]):
        probs = {}
        for name in teachers or {"t": 1.0}:
            z = 2.0 * numpy.array([k == label for k in LABELS]) + rng.normal(
                0, 1, len(LABELS)
            )
            probs[name] = (sigmoid(z) if multi_label else softmax(z)).tolist()
        doc = mark_pseudo(
            nlp.make_doc(text),
            labels=LABELS,
            probs=probs,
            weights=teachers,
            multi_label=multi_label,
        )
        doc.user_data["spacy_kd_id"] = i
        if mutate is not None:
            mutate(doc, i)
        pseudo.append(doc)
    folder = tmp_path / "pseudo"
    folder.mkdir()
    size = math.ceil(len(pseudo) / n_shards)
    for s in range(n_shards):
        part = pseudo[s * size : (s + 1) * size]
        DocBin(docs=part, store_user_data=True).to_disk(folder / f"shard-{s:05d}.spacy")
    return tmp_path / "gold.spacy", folder, len(pseudo)
