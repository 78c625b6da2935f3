"""A biLM whose ``max_characters_per_token`` is not 50, and refused pickles."""

import io

import numpy
import pytest
import spacy
import srsly
import torch
from thinc.api import fix_random_seed

from spacy_kd.elmo.file_format import save_bilm
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.embedder import ElmoRepresentation, embed_token_lists
from spacy_kd.elmo.tok2vec import build_elmo_tok2vec, deserialize_elmo

TOKENS = [["a", "supercalifragilisticexpialidocious", "word"], ["short"]]


def tiny_bilm(max_chars: int) -> ElmoBiLm:
    torch.manual_seed(1)
    options = ElmoOptions(
        filters=[(1, 4), (2, 4), (3, 8)],
        projection_dim=8,
        cell_dim=16,
        n_layers=1,
        n_highway=1,
        max_characters_per_token=max_chars,
    )
    bilm = ElmoBiLm(options)
    with torch.no_grad():
        for param in bilm.parameters():
            param.normal_(0.0, 0.5)
    return bilm


@pytest.mark.parametrize("max_chars", [30, 60])
def test_embed_token_lists_with_another_char_width(max_chars):
    bilm = tiny_bilm(max_chars)
    out = embed_token_lists(bilm, TOKENS)
    assert [o.shape for o in out] == [(2, 3, 16), (2, 1, 16)]
    assert all(numpy.isfinite(o).all() for o in out)


@pytest.mark.parametrize("max_chars", [30, 60])
def test_tok2vec_layer_with_another_char_width(tmp_path, max_chars):
    fix_random_seed(0)
    save_bilm(tiny_bilm(max_chars), tmp_path)
    model = build_elmo_tok2vec(
        tmp_path / "options.json", tmp_path / "weights.hdf5", representation="top"
    )
    nlp = spacy.blank("en")
    docs = [nlp(" ".join(tokens)) for tokens in TOKENS]
    model.initialize(X=docs)
    vectors = model.predict(docs)
    expected = embed_token_lists(tiny_bilm(max_chars), TOKENS)
    for got, want in zip(vectors, expected):
        numpy.testing.assert_allclose(got, want[-1], rtol=1e-5, atol=1e-6)


class Payload:
    """Any object other than tensors and plain containers."""

    def __reduce__(self):
        return (print, ("unpickled an arbitrary object",))


def test_serialized_weights_holding_an_object_are_refused(monkeypatch):
    # torch < 2.6 loads any pickle unless weights_only=True is passed; this
    # variable gives torch >= 2.6 that old default where the call does not say
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    state = io.BytesIO()
    torch.save({"weights": torch.zeros(2), "payload": Payload()}, state)
    data = srsly.msgpack_dumps({"options": None, "state": state.getvalue()})
    module = ElmoRepresentation("top")
    with pytest.raises(ValueError, match="not a plain state dict of tensors"):
        deserialize_elmo(module, data, torch.device("cpu"))
