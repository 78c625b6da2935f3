"""Student architectures: compact text classifiers that run on CPU without torch.

``spacy-kd.TfidfLinear.v1`` is the classic TF-IDF + logistic regression classifier as
a thinc model: hashed n-grams with sublinear tf times IDF (fitted at initialize over
the gold and pseudo-labelled training docs, saved with the model), L2-normalised per
doc, into a sparse linear layer and a softmax (exclusive classes) or a sigmoid
(multi-label). Sparse all the way: a doc costs its number of distinct n-grams.
"""

from typing import List, Optional

from spacy.tokens import Doc
from thinc.api import (
    Model,
    SparseLinear_v2,
    chain,
    sigmoid_activation,
    softmax_activation,
)
from thinc.types import Floats2d

from spacy_kd.teachers.tfidf import NAME_V2, build_tfidf_ngrams_v2


def build_tfidf_linear(
    tfidf: Optional[Model] = None,
    exclusive_classes: bool = True,
    length: int = 2**18,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """A linear classifier over TF-IDF n-grams.

    tfidf: a ``spacy-kd.TfidfNgrams.v2`` layer (default: unigrams of LOWER).
    length: rows of the sparse weight table (hashed n-grams share rows beyond it).
    """
    if tfidf is None:
        tfidf = build_tfidf_ngrams_v2()
    if tfidf.name != NAME_V2:
        raise ValueError(
            "TfidfLinear needs a spacy-kd.TfidfNgrams.v2 layer (IDF fitted at "
            f"initialize), got {tfidf.name!r}"
        )
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    linear = SparseLinear_v2(nO=nO, length=length)
    activation = softmax_activation() if exclusive_classes else sigmoid_activation()
    model = chain(tfidf, linear, activation)
    model.set_ref("tfidf", tfidf)
    model.set_ref("output_layer", linear)
    model.attrs["multi_label"] = not exclusive_classes
    if nO is not None:
        model.set_dim("nO", nO)
    return model
