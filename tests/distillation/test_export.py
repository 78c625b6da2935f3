"""Exporting a trained student as a stock spaCy pipeline."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy
from student_data import make_examples, student_nlp
from thinc.api import Adam

from spacy_kd.distillation.export import export_student, stock_config, student_names


def train(multi_label: bool):
    nlp = student_nlp(multi_label, temperature=2.0, alpha=0.7)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    nlp.initialize(lambda: gold + pseudo)
    optimizer = Adam(0.01)
    for _ in range(3):
        nlp.update(gold + pseudo, sgd=optimizer)
    return multi_label, nlp, gold + pseudo, optimizer


@pytest.fixture(params=[False, True], ids=["exclusive", "multilabel"])
def trained(request):
    return train(request.param)


def cats(nlp, texts):
    out = [doc.cats for doc in nlp.pipe(texts)]
    return numpy.array([[c[k] for k in sorted(c)] for c in out])


def test_export_swaps_in_the_stock_component(trained):
    multi_label, nlp, examples, _ = trained
    stock = "textcat_multilabel" if multi_label else "textcat"
    assert student_names(nlp) == {"textcat": stock}
    exported = export_student(nlp)
    assert exported is not nlp
    assert exported.get_pipe_meta("textcat").factory == stock
    assert type(exported.get_pipe("textcat")).__module__.startswith("spacy.pipeline")
    assert exported.get_pipe("textcat").labels == nlp.get_pipe("textcat").labels
    assert not student_names(exported)
    texts = [eg.reference.text for eg in examples]
    numpy.testing.assert_allclose(cats(exported, texts), cats(nlp, texts), rtol=1e-6)
    # the config differs in the component block only: factory and student settings
    config, original = exported.config, nlp.config
    block = config["components"]["textcat"]
    assert block["factory"] == stock
    assert not {"temperature", "alpha", "loss"} & set(block)
    assert block["model"] == original["components"]["textcat"]["model"]
    assert block["threshold"] == original["components"]["textcat"]["threshold"]
    for section in ("nlp", "training", "corpora", "initialize"):
        assert config[section] == original[section]
    assert stock_config(nlp)["components"]["textcat"] == block


def test_training_goes_on_with_the_original(trained):
    _, nlp, examples, optimizer = trained
    texts = [eg.reference.text for eg in examples[:8]]
    exported = export_student(nlp)
    before = cats(exported, texts)
    nlp.update(examples, sgd=optimizer)
    numpy.testing.assert_array_equal(cats(exported, texts), before)
    assert numpy.abs(cats(nlp, texts) - before).max() > 1e-4


FRESH = """
import json, sys, spacy
out = {}
for path, texts in json.loads(sys.argv[1]).items():
    nlp = spacy.load(path)
    cats = [doc.cats for doc in nlp.pipe(texts)]
    out[path] = [[c[k] for k in sorted(c)] for c in cats]
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Both students (exclusive, multi-label) trained, exported to disk and loaded
    in ONE fresh interpreter (its start costs more than all the rest):
    multi_label -> (trained nlp, texts, exported folder, what the fresh interpreter
    predicted, or its stderr if it failed)."""
    tmp = tmp_path_factory.mktemp("exported")
    students = {}
    for multi_label in (False, True):
        _, nlp, examples, _ = train(multi_label)
        path = tmp / ("multilabel" if multi_label else "exclusive")
        export_student(nlp).to_disk(path)
        texts = [eg.reference.text for eg in examples[:8]]
        students[multi_label] = (nlp, texts, path)
    wanted = {str(path): texts for _, texts, path in students.values()}
    result = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(wanted)],
        capture_output=True, text=True, cwd=str(tmp),
    )  # fmt: skip
    found = json.loads(result.stdout.splitlines()[-1]) if result.returncode == 0 else {}
    return {
        multi_label: (
            nlp,
            texts,
            path,
            found.get(str(path), f"exit {result.returncode}: {result.stderr}"),
        )
        for multi_label, (nlp, texts, path) in students.items()
    }


@pytest.mark.parametrize("multi_label", [False, True], ids=["exclusive", "multilabel"])
def test_exported_pipeline_round_trips_in_a_fresh_process(exported, multi_label):
    nlp, texts, path, fresh = exported[multi_label]
    want = cats(nlp, texts)
    config = (path / "config.cfg").read_text(encoding="utf-8")
    assert "kd_textcat" not in config
    assert not isinstance(fresh, str), fresh  # the fresh interpreter's stderr
    numpy.testing.assert_allclose(numpy.array(fresh), want, rtol=1e-5)
    reloaded = spacy.load(path)
    numpy.testing.assert_allclose(cats(reloaded, texts), want, rtol=1e-6)


def test_a_pipeline_without_students_is_returned_as_is():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    assert export_student(nlp) is nlp
