"""A blank spaCy pipeline for a language code, with a clear error for an unknown one."""

import spacy
from spacy.language import Language

from spacy_kd.errors import DataError


def blank_language(lang: str) -> Language:
    """``spacy.blank(lang)``; an unknown language code is a DataError, not E048.
    Any other ImportError (a plugin's entry point that fails to import, say) is
    raised as it is: it says nothing about the code."""
    try:
        return spacy.blank(lang)
    except ImportError as err:
        if "[E048]" not in str(err):
            raise
        raise DataError(
            None,
            f"--lang {lang!r} is not a language code spaCy knows (e.g. en, de, xx "
            "for multi-language); see https://spacy.io/usage/models#languages",
        ) from None
