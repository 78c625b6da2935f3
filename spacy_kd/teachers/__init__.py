"""Teacher architectures and the frozen-feature layers they are built from.

architectures.py  ``spacy-kd.TeacherClassifier.v1``, ``FrozenTransformerFeatures.v1``
                  and ``.v2`` (v1 with inference settings)
inference.py      a frozen transformer's windows batched by length; int8 (onnxruntime)
settings.py       ``teacher-inference``: a teacher copied with other inference settings
frozen.py         ``spacy-kd.FrozenCached.v1``: a frozen encoder's features, cached
pooled.py         ``spacy-kd.FrozenPooledTok2Vec.v1``: a frozen tok2vec, pooled per doc
tfidf.py          ``spacy-kd.TfidfNgrams.v1``: hashed TF-IDF n-gram features
spans.py          ``spacy-kd.strided_spans.v1``: capped strided windows for BERT

Registered through entry points in setup.py; the modules here import torch (and
onnxruntime) only inside the functions that need them.
"""
