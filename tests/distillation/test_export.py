"""Exporting a trained student as a stock spaCy pipeline."""

import json
import subprocess
import sys

import numpy
import pytest
import spacy
from spacy.util import make_tempdir
from student_data import make_examples, student_nlp
from thinc.api import Adam

from spacy_kd.distillation.export import export_student, stock_config, student_names


@pytest.fixture(params=[False, True], ids=["exclusive", "multilabel"])
def trained(request):
    multi_label = request.param
    nlp = student_nlp(multi_label, temperature=2.0, alpha=0.7)
    gold, pseudo = make_examples(nlp, multi_label=multi_label)
    nlp.initialize(lambda: gold + pseudo)
    optimizer = Adam(0.01)
    for _ in range(3):
        nlp.update(gold + pseudo, sgd=optimizer)
    return multi_label, nlp, gold + pseudo, optimizer


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


def test_exported_pipeline_round_trips_in_a_fresh_process(trained):
    _, nlp, examples, _ = trained
    texts = [eg.reference.text for eg in examples[:8]]
    want = cats(nlp, texts)
    with make_tempdir() as d:
        export_student(nlp).to_disk(d / "student")
        config = (d / "student" / "config.cfg").read_text(encoding="utf-8")
        assert "kd_textcat" not in config
        code = (
            "import json, sys, spacy\n"
            "nlp = spacy.load(sys.argv[1])\n"
            "out = [doc.cats for doc in nlp.pipe(json.loads(sys.argv[2]))]\n"
            "print(json.dumps([[c[k] for k in sorted(c)] for c in out]))\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code, str(d / "student"), json.dumps(texts)],
            capture_output=True, text=True, cwd=str(d),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        numpy.testing.assert_allclose(
            numpy.array(json.loads(result.stdout)), want, rtol=1e-5
        )
        reloaded = spacy.load(d / "student")
        numpy.testing.assert_allclose(cats(reloaded, texts), want, rtol=1e-6)


def test_a_pipeline_without_students_is_returned_as_is():
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    assert export_student(nlp) is nlp
