"""Tiny gold and pseudo-labelled examples from the real 20 Newsgroups fixture."""

import json
from pathlib import Path
from typing import List

import numpy
import spacy
from spacy.language import Language
from spacy.training import Example
from thinc.api import Config

from spacy_kd.annotate.pseudo import mark_pseudo

DATA = Path(__file__).parent.parent / "fixtures" / "20ng_train.jsonl"
GROUPS = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.politics.mideast"]
TOP = sorted({g.split(".")[0] for g in GROUPS})

TINY_CNN = """
[model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = {exclusive}
use_reduce_first = false
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true

[model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = 16
attrs = ["NORM", "PREFIX", "SUFFIX"]
rows = [500, 100, 200]
include_static_vectors = false

[model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 16
window_size = 1
maxout_pieces = 2
depth = 1
"""


def rows(per_class: int = 10, words: int = 60):
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["label"] in GROUPS:
            out.append((" ".join(row["text"].split()[:words]), row["label"]))
    by_label = {g: [r for r in out if r[1] == g][:per_class] for g in GROUPS}
    return [r for i in range(per_class) for g in GROUPS for r in by_label[g][i : i + 1]]


def labels_for(multi_label: bool) -> List[str]:
    return GROUPS + TOP if multi_label else list(GROUPS)


def gold_cats(label: str, multi_label: bool):
    cats = {g: float(g == label) for g in GROUPS}
    if multi_label:
        cats.update({t: float(label.startswith(t + ".")) for t in TOP})
    return cats


def make_examples(nlp: Language, *, multi_label: bool, n_gold: int = 3, seed: int = 0):
    """Gold examples (the first n_gold per class) and pseudo-labelled ones (the
    rest, with soft labels made from the gold label plus noise, from two
    teachers, one of which records logits)."""
    rng = numpy.random.default_rng(seed)
    labels = labels_for(multi_label)
    gold, pseudo = [], []
    for i, (text, label) in enumerate(rows()):
        ref = nlp.make_doc(text)
        truth = numpy.array([gold_cats(label, multi_label)[k] for k in labels])
        if i < n_gold * len(GROUPS):
            ref.cats = gold_cats(label, multi_label)
            gold.append(Example(nlp.make_doc(text), ref))
            continue
        probs = {}
        logits = {}
        for name in ("elmo", "bert"):
            if multi_label:
                p = numpy.clip(0.8 * truth + 0.2 * rng.random(len(labels)), 0.01, 0.99)
                z = numpy.log(p) - numpy.log1p(-p)
            else:
                z = 3.0 * truth + rng.normal(0, 1.0, len(labels))
                p = numpy.exp(z - z.max())
                p /= p.sum()
            probs[name] = p.tolist()
            logits[name] = z.tolist()
        mark_pseudo(
            ref, labels=labels, probs=probs, weights={"elmo": 0.25, "bert": 0.75},
            logits={"elmo": logits["elmo"], "bert": logits["bert"]},
            multi_label=multi_label,
        )  # fmt: skip
        pseudo.append(Example(nlp.make_doc(text), ref))
    return gold, pseudo


def student_nlp(multi_label: bool, **settings) -> Language:
    nlp = spacy.blank("en")
    factory = "kd_textcat_multilabel" if multi_label else "kd_textcat"
    model = Config().from_str(TINY_CNN.format(exclusive=str(not multi_label).lower()))[
        "model"
    ]
    nlp.add_pipe(factory, name="textcat", config={"model": model, **settings})
    return nlp
