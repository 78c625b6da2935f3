"""ELMo's ``options.json``: the sizes of the character CNN and of the biLSTM.

The layout is the one allennlp and bilm-tf read::

    {"lstm": {"dim": 4096, "projection_dim": 512, "n_layers": 2,
              "cell_clip": 3, "proj_clip": 3, "use_skip_connections": true},
     "char_cnn": {"activation": "relu", "embedding": {"dim": 16},
                  "filters": [[1, 32], [2, 32], ...], "n_highway": 2,
                  "max_characters_per_token": 50, "n_characters": 262}}

Keys we do not use (``bidirectional``, ``dropout``, ``n_tokens_vocab``...) are kept
and written back unchanged.
"""

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from spacy_kd.elmo.char_ids import MAX_CHARS, N_CHARACTERS
from spacy_kd.errors import DataError


@dataclass
class ElmoOptions:
    """Sizes of an ELMo biLM (see the module docstring for the file layout)."""

    filters: List[Tuple[int, int]]
    projection_dim: int
    cell_dim: int
    n_layers: int
    char_embed_dim: int = 16
    n_highway: int = 2
    activation: str = "relu"
    max_characters_per_token: int = MAX_CHARS
    n_characters: int = N_CHARACTERS
    cell_clip: Optional[float] = 3.0
    proj_clip: Optional[float] = 3.0
    use_skip_connections: bool = True
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def n_filters(self) -> int:
        return sum(num for _, num in self.filters)

    @property
    def num_output_layers(self) -> int:
        """Layers of activations: the character layer plus one per LSTM layer."""
        return self.n_layers + 1

    @property
    def output_dim(self) -> int:
        """Width of one layer's activations (forward and backward concatenated)."""
        return 2 * self.projection_dim

    def validate(self, path: Union[str, Path, None] = None) -> "ElmoOptions":
        def bad(key: str, problem: str) -> DataError:
            return DataError(path, f"options key '{key}' {problem}")

        positive = {
            "lstm.projection_dim": self.projection_dim,
            "lstm.dim": self.cell_dim,
            "lstm.n_layers": self.n_layers,
            "char_cnn.embedding.dim": self.char_embed_dim,
            "char_cnn.max_characters_per_token": self.max_characters_per_token,
        }
        for key, value in positive.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise bad(key, f"must be a positive integer, got {value!r}")
        if not isinstance(self.n_highway, int) or self.n_highway < 0:
            raise bad(
                "char_cnn.n_highway", f"must be an integer >= 0, got {self.n_highway!r}"
            )
        if self.max_characters_per_token < 3:
            raise bad("char_cnn.max_characters_per_token", "must be at least 3")
        if self.n_characters < N_CHARACTERS:
            raise bad(
                "char_cnn.n_characters",
                f"must be at least {N_CHARACTERS} (ELMo's character ids), "
                f"got {self.n_characters!r}",
            )
        if self.activation not in ("relu", "tanh"):
            raise bad(
                "char_cnn.activation",
                f"must be 'relu' or 'tanh', got {self.activation!r}",
            )
        if not self.filters:
            raise bad("char_cnn.filters", "must list at least one [width, number] pair")
        for width, num in self.filters:
            if width < 1 or num < 1 or width > self.max_characters_per_token:
                raise bad(
                    "char_cnn.filters",
                    f"has an invalid [width, number] pair {[width, num]!r}",
                )
        for key, clip in (
            ("lstm.cell_clip", self.cell_clip),
            ("lstm.proj_clip", self.proj_clip),
        ):
            if clip is not None and clip < 0:
                raise bad(key, f"must be >= 0 or null, got {clip!r}")
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The options in allennlp's JSON layout (unknown keys kept from ``extra``)."""
        out = copy.deepcopy(self.extra)
        lstm = out.setdefault("lstm", {})
        lstm.update(
            {
                "dim": self.cell_dim,
                "projection_dim": self.projection_dim,
                "n_layers": self.n_layers,
                "cell_clip": self.cell_clip,
                "proj_clip": self.proj_clip,
                "use_skip_connections": self.use_skip_connections,
            }
        )
        cnn = out.setdefault("char_cnn", {})
        cnn.update(
            {
                "activation": self.activation,
                "embedding": {"dim": self.char_embed_dim},
                "filters": [[w, n] for w, n in self.filters],
                "n_highway": self.n_highway,
                "max_characters_per_token": self.max_characters_per_token,
                "n_characters": self.n_characters,
            }
        )
        out.setdefault("bidirectional", True)
        return out

    @classmethod
    def from_dict(
        cls, data: Dict[str, Any], path: Union[str, Path, None] = None
    ) -> "ElmoOptions":
        """Read allennlp's layout; a missing or mistyped key names the file and key."""

        def get(section: str, key: str, kind: Any, default: Any = ...) -> Any:
            block = data.get(section)
            name = f"{section}.{key}"
            if not isinstance(block, dict):
                raise DataError(path, f"options are missing the section '{section}'")
            if key not in block:
                if default is ...:
                    raise DataError(path, f"options are missing the key '{name}'")
                return default
            value = block[key]
            if value is None and None in kind:
                return None
            types = tuple(k for k in kind if k is not None)
            if (
                not isinstance(value, types)
                or isinstance(value, bool)
                and bool not in types
            ):
                raise DataError(
                    path, f"options key '{name}' has the wrong type: {value!r}"
                )
            return value

        if not isinstance(data, dict):
            raise DataError(path, "options must be a JSON object")
        embedding = get("char_cnn", "embedding", (dict,))
        if "dim" not in embedding:
            raise DataError(
                path, "options are missing the key 'char_cnn.embedding.dim'"
            )
        raw_filters = get("char_cnn", "filters", (list,))
        filters: List[Tuple[int, int]] = []
        for pair in raw_filters:
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
            ):
                raise DataError(
                    path,
                    f"options key 'char_cnn.filters' has an invalid entry {pair!r}",
                )
            filters.append((int(pair[0]), int(pair[1])))
        number = (int, float, None)
        cell_clip = get("lstm", "cell_clip", number)
        proj_clip = get("lstm", "proj_clip", number)
        options = cls(
            filters=filters,
            projection_dim=get("lstm", "projection_dim", (int,)),
            cell_dim=get("lstm", "dim", (int,)),
            n_layers=get("lstm", "n_layers", (int,)),
            char_embed_dim=embedding["dim"],
            n_highway=get("char_cnn", "n_highway", (int,)),
            activation=get("char_cnn", "activation", (str,)),
            max_characters_per_token=get(
                "char_cnn", "max_characters_per_token", (int,), MAX_CHARS
            ),
            n_characters=get("char_cnn", "n_characters", (int,), N_CHARACTERS),
            # allennlp treats a clip of 0 as "no clipping" (it tests `if clip:`)
            cell_clip=float(cell_clip) if cell_clip else None,
            proj_clip=float(proj_clip) if proj_clip else None,
            use_skip_connections=bool(
                get("lstm", "use_skip_connections", (bool,), False)
            ),
            extra=copy.deepcopy(data),
        )
        return options.validate(path)

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "ElmoOptions":
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "options file not found")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise DataError(path, f"not a valid JSON options file: {e}") from None
        return cls.from_dict(data, path)
