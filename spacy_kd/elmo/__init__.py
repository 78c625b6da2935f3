"""ELMo: a native PyTorch biLM that reads and writes allennlp's files.

options.py      the ``options.json`` settings (``ElmoOptions``)
char_ids.py     allennlp's character ids of a token (numpy only)
file_format.py  load and save ``options.json`` + ``weights.hdf5``
pytorch/        the plain torch modules (biLM, character CNN, LSTM, scalar mix, ...)
pretrain/       pretraining the biLM on a corpus (``spacy_kd pretrain-elmo``)
tok2vec.py      ``spacy-kd.ElmoTok2Vec.v1``, the thinc layer over the biLM

Nothing is imported here: torch loads only with the modules that need it.
"""
