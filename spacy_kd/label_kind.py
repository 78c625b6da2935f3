"""Exclusive or multi-label: one training config switched to the other label kind.

spaCy has a factory per kind (``textcat`` / ``textcat_multilabel``, and ours,
``kd_textcat`` / ``kd_textcat_multilabel``), and the model's ``exclusive_classes``
must agree with it (softmax or sigmoid output). ``switch_label_kind`` makes one
config of either kind, so the project keeps one config per model and the
``multilabel`` workflow var switches them all (``spacy_kd configs``).
"""

from pathlib import Path
from typing import Any, Dict, List, Tuple, Union

from thinc.api import Config

from spacy_kd.errors import DataError
from spacy_kd.util import check_default_output, check_outputs, write_bytes_atomic

PathLike = Union[str, Path]

# exclusive factory -> multi-label factory
FACTORIES = {"textcat": "textcat_multilabel", "kd_textcat": "kd_textcat_multilabel"}
SCORERS = {
    "spacy.textcat_scorer.v2": "spacy.textcat_multilabel_scorer.v2",
    "spacy.textcat_scorer.v1": "spacy.textcat_multilabel_scorer.v1",
}
# a multi-label component's decision threshold when the exclusive one had none
MULTI_LABEL_THRESHOLD = 0.5
TRUE = ("true", "yes", "1", "on")
FALSE = ("false", "no", "0", "off")


def parse_bool(value: Union[str, bool], option: str) -> bool:
    """A true/false option value as the project passes its vars (``True``,
    ``false``, ``1``...)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{option} takes true or false, got {value!r}")


def is_multi_label_config(config: Config) -> bool:
    """Whether the config holds a multi-label text classifier."""
    factories = {
        block.get("factory") for block in config.get("components", {}).values()
    }
    return bool(factories & set(FACTORIES.values()))


def _model_flags(node: Any, path: Tuple[str, ...]) -> List[Tuple[str, ...]]:
    """The paths of every ``exclusive_classes`` setting under a model block."""
    found: List[Tuple[str, ...]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "exclusive_classes":
                found.append((*path, key))
            else:
                found += _model_flags(value, (*path, key))
    return found


def switch_label_kind(config: Config, multi_label: bool) -> Tuple[Config, List[str]]:
    """``config`` with every text classifier of the other kind switched to
    ``multi_label``; returns the new config and what changed (``a.b: old -> new``).

    For each component whose factory is one of :data:`FACTORIES` (either side): the
    factory, every ``exclusive_classes`` in its model, its scorer when the config
    names one, and a multi-label threshold of 0 (which would predict every label)
    becomes 0.5. A config with no text classifier is an error.
    """
    new = Config(config).copy()
    changes: List[str] = []
    to_multi = dict(FACTORIES)
    to_exclusive = {v: k for k, v in FACTORIES.items()}
    found = 0

    def set_value(block: Dict[str, Any], key: str, value: Any, where: str) -> None:
        old = block.get(key)
        if old != value:
            block[key] = value
            changes.append(f"{where}: {old!r} -> {value!r}")

    for name, block in new.get("components", {}).items():
        factory = block.get("factory")
        if factory not in to_multi and factory not in to_exclusive:
            continue
        found += 1
        where = f"components.{name}"
        table = to_multi if multi_label else to_exclusive
        set_value(block, "factory", table.get(factory, factory), f"{where}.factory")
        for flag in _model_flags(block.get("model", {}), ("model",)):
            parent = block
            for key in flag[:-1]:
                parent = parent[key]
            set_value(parent, flag[-1], not multi_label, f"{where}.{'.'.join(flag)}")
        scorer = block.get("scorer")
        if isinstance(scorer, dict) and "@scorers" in scorer:
            names = SCORERS if multi_label else {v: k for k, v in SCORERS.items()}
            old = scorer["@scorers"]
            set_value(scorer, "@scorers", names.get(old, old), f"{where}.scorer")
        if multi_label and not block.get("threshold"):
            set_value(block, "threshold", MULTI_LABEL_THRESHOLD, f"{where}.threshold")
    if not found:
        raise ValueError(
            "no text classifier in the config (no component with factory "
            f"{', '.join(sorted([*to_multi, *to_exclusive]))})"
        )
    return new, changes


def write_kind_configs(
    configs: List[PathLike],
    output_dir: PathLike,
    multi_label: bool,
    *,
    overwrite: bool = False,
) -> Dict[str, List[str]]:
    """Write each config, switched to ``multi_label``, under the same file name in
    ``output_dir``; returns the changes per file. Every config is read and switched,
    and every output checked (one that exists and differs needs ``overwrite``),
    before any is written."""

    out = Path(output_dir)
    made: Dict[str, Tuple[bytes, List[str]]] = {}
    for source in configs:
        source = Path(source)
        try:
            text = source.read_text(encoding="utf-8")
            config = Config().from_str(text, interpolate=False)
        except OSError as e:
            raise DataError(source, f"cannot read the config: {e.strerror}") from None
        except Exception as e:  # confection and configparser raise many kinds
            raise DataError(source, f"not a readable spaCy config: {e}") from None
        try:
            switched, changes = switch_label_kind(config, multi_label)
        except ValueError as e:
            raise DataError(source, str(e)) from None
        kind = "multi-label" if multi_label else "exclusive"
        header = f"# {source.name} for {kind} labels, written by spacy_kd configs\n"
        made[source.name] = ((header + switched.to_str()).encode("utf-8"), changes)
    check_outputs(configs, [out / name for name in made], folders=[out])
    changed = [n for n in made if check_default_output(out / n, made[n][0], overwrite)]
    for name in changed:
        write_bytes_atomic(out / name, made[name][0])
    return {name: changes for name, (_, changes) in made.items()}
