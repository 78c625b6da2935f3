"""Plain torch modules for ELMo, and the functions to load, save and run them.

The main entry points::

    bilm = load_bilm(options_path, weights_path)    # or load_bilm_dir(folder)
    layers = embed_docs(bilm, docs)                  # per doc: (n_layers, n_tokens, dim)
    save_bilm(bilm, folder)                          # allennlp's options.json + weights.hdf5
"""

from .bilm import ElmoBiLm
from .char_cnn import ElmoCharacterEncoder
from .char_ids import batch_to_char_ids, token_char_ids
from .elmo_io import load_bilm, load_bilm_dir, save_bilm, write_weights
from .embedder import ElmoRepresentation, Windows, embed_docs, embed_token_lists
from .highway import Highway
from .language_model import ElmoLanguageModel
from .lstm import ElmoLstm, LstmCellWithProjection
from .options import ElmoOptions
from .scalar_mix import ScalarMix

__all__ = [
    "ElmoBiLm",
    "ElmoCharacterEncoder",
    "ElmoLanguageModel",
    "ElmoLstm",
    "ElmoOptions",
    "ElmoRepresentation",
    "Highway",
    "LstmCellWithProjection",
    "ScalarMix",
    "Windows",
    "batch_to_char_ids",
    "embed_docs",
    "embed_token_lists",
    "load_bilm",
    "load_bilm_dir",
    "save_bilm",
    "token_char_ids",
    "write_weights",
]
