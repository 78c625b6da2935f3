"""A student's error about a gold doc names the file and the doc, not only a
position among shuffled examples."""

import pytest
import spacy
from spacy.tokens import DocBin
from student_data import student_nlp

from spacy_kd.annotate.pseudo import AnnotationError
from spacy_kd.distillation.corpus import create_distillation_corpus


def test_multilabel_gold_for_an_exclusive_student_names_file_and_doc(tmp_path):
    nlp = spacy.blank("en")
    docs = []
    for i, text in enumerate(["one label", "another one", "two labels", "last"]):
        doc = nlp.make_doc(text)
        doc.cats = {"a": float(i % 2 == 0), "b": float(i % 2 == 1)}
        docs.append(doc)
    docs[2].cats = {"a": 1.0, "b": 1.0}
    gold = tmp_path / "gold.spacy"
    DocBin(docs=docs).to_disk(gold)
    student = student_nlp(False)
    corpus = create_distillation_corpus(gold, seed=3)
    with pytest.raises(AnnotationError) as err:
        student.initialize(lambda: corpus(student))
    message = str(err.value)
    assert f"({gold} doc 2)" in message
    assert "2 positive labels" in message
    assert "kd_textcat_multilabel" in message
