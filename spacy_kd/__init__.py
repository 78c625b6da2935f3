"""spacy_kd: distil big contextual text classifiers into compact spaCy students.

spaCy functions are registered through entry points in setup.py, so configs
resolve without ``--code`` and importing this package stays cheap (no torch).
"""

from spacy_kd.about import __version__
from spacy_kd.errors import DataError

__all__ = ["__version__", "DataError"]
