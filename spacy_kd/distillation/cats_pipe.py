"""The shared shape of the pipes that sit after a text classifier and rewrite its
``doc.cats`` from a small state fitted after training: ``kd_label_thresholds``
(multi-label decision thresholds) and ``kd_label_prior`` (exclusive label-prior
weights).

The state is one JSON object in one file of the component's folder, written with
the standard library's ``json``: srsly's ujson rounds floats to 10 digits, which
would move a threshold off the score it was tuned to sit between. A subclass names
the file and says how its state turns into a dict and back (checking it); this
class does the rest of spaCy's pipe protocol.
"""

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc


class CatsPostprocessor(Pipe):
    """A pipe that rewrites ``doc.cats`` from a JSON-serialisable state."""

    file_name = "state.json"

    def __init__(self, nlp: Language, name: str) -> None:
        self.name = name

    def get_state(self) -> Dict[str, Any]:
        """The state as a JSON-serialisable dict."""
        raise NotImplementedError

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Set (and check) the state from what ``get_state`` returned."""
        raise NotImplementedError

    def __call__(self, doc: Doc) -> Doc:
        raise NotImplementedError

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        for doc in stream:
            yield self(doc)

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        text = json.dumps(self.get_state(), indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")

    def from_bytes(
        self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()
    ) -> "CatsPostprocessor":
        self.set_state(json.loads(bytes_data.decode("utf-8")))
        return self

    def to_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / self.file_name).write_bytes(self.to_bytes())

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> "CatsPostprocessor":
        return self.from_bytes((Path(path) / self.file_name).read_bytes())


def enabled_components(nlp: Language, factory: str) -> List[str]:
    """The names of the pipeline's enabled components made by ``factory``."""
    return [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory == factory]


def first_component(nlp: Language, factory: str) -> Optional[Pipe]:
    """The pipeline's first component made by ``factory``, enabled or not, or None."""
    for name in nlp.component_names:
        if nlp.get_pipe_meta(name).factory == factory:
            return nlp.get_pipe(name)
    return None


def get_or_add(nlp: Language, factory: str, *, name: str, after: Optional[str]) -> Pipe:
    """The pipeline's component made by ``factory``; added as ``name`` after
    ``after`` if there is none."""
    pipe = first_component(nlp, factory)
    if pipe is None:
        pipe = nlp.add_pipe(factory, name=name, after=after)
    return pipe
