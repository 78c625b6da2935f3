"""Distillation: the student component, its losses, corpus reader, callback and export.

losses.py     cross-entropy / KL / squared-error losses on logits, with their gradients
logits.py     the logits of spaCy's textcat models and how a gradient reaches them
student.py    ``kd_textcat`` / ``kd_textcat_multilabel``: textcat trained on soft
              targets
corpus.py     ``spacy-kd.DistillationCorpus.v1``: gold + pseudo-labelled docs
callbacks.py  ``spacy-kd.distillation.v1`` (schedules), ``spacy-kd.export_student.v1``
export.py     turn a trained student into a stock ``textcat`` pipeline
loggers.py    ``spacy-kd.ConsoleLogger.v1``: spaCy's console logger plus the
              student's columns
students.py   train a grid of students (``spacy_kd students``)
thresholds.py ``kd_label_thresholds``: a multi-label classifier's per-label thresholds
prior.py      ``kd_label_prior``: an exclusive classifier's label-prior correction

Registered through entry points in setup.py; nothing heavy (no torch) is imported here.
"""
