"""Pipeline components: the student text classifiers and their export to stock spaCy.

Components register through the ``spacy_factories`` entry points in setup.py.
"""
