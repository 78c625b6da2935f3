"""Type aliases for the thinc architectures."""

from typing import List

from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d

DocsToFloats2d = Model[List[Doc], List[Floats2d]]

__all__ = ["DocsToFloats2d"]
