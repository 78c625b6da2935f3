"""Turn a trained student into a stock spaCy pipeline (no spacy_kd needed to load it).

A student component is spaCy's ``textcat`` / ``textcat_multilabel`` with a
different training loss; its model is a stock spaCy architecture. Exporting
swaps each student for the stock component with the same config, labels and
weights, so the saved pipeline loads with ``spacy.load`` wherever spaCy is
installed and predicts exactly as the student did.
"""

import copy
from typing import Dict

from spacy.language import Language
from spacy.util import load_model_from_config
from thinc.api import Config

from spacy_kd.distillation.student import STUDENT_SETTINGS

# student factory -> the stock factory it is exported as
STOCK_FACTORIES: Dict[str, str] = {
    "kd_textcat": "textcat",
    "kd_textcat_multilabel": "textcat_multilabel",
}


def student_names(nlp: Language) -> Dict[str, str]:
    """Component name -> stock factory, for every student component in ``nlp``."""
    found = {}
    for name in nlp.component_names:
        factory = nlp.get_pipe_meta(name).factory
        if factory in STOCK_FACTORIES:
            found[name] = STOCK_FACTORIES[factory]
    return found


def stock_config(nlp: Language) -> Config:
    """``nlp.config`` with every student block rewritten for its stock factory."""
    config = nlp.config.copy()
    for name, stock in student_names(nlp).items():
        block = {
            key: value
            for key, value in nlp.get_pipe_config(name).items()
            if key not in STUDENT_SETTINGS and key != "factory"
        }
        config["components"][name] = {"factory": stock, **copy.deepcopy(dict(block))}
    return config


def export_student(nlp: Language) -> Language:
    """A copy of ``nlp`` in which each student component is its stock spaCy twin.

    The copy shares nothing with ``nlp`` (training can go on with ``nlp``), has
    the same vocab, tokenizer, components, weights, disabled components and meta.
    A pipeline without student components is returned unchanged.
    """
    if not student_names(nlp):
        return nlp
    config = stock_config(nlp)
    exported = load_model_from_config(
        config, disable=list(nlp.disabled), auto_fill=False, validate=True
    )
    exported.vocab.from_bytes(nlp.vocab.to_bytes())
    exported.tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    for name in nlp.component_names:
        pipe = nlp.get_pipe(name)
        if not hasattr(pipe, "to_bytes"):
            continue
        exported.get_pipe(name).from_bytes(
            pipe.to_bytes(exclude=["vocab"]), exclude=["vocab"]
        )
    exported.meta = copy.deepcopy(nlp.meta)
    return exported
