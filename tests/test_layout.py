"""The package's layout: one package per stage, arrows one way, no module too long.

Imports are read with ``ast`` (nothing is executed), including imports inside
functions, so that a lazy import cannot hide a cycle.
"""

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "spacy_kd"

# The stages of the recipe, in the order the arrows go: a module may import its own
# stage, a lower one, or a shared module; never a higher stage.
STAGES = {
    "data": 1,
    "elmo": 2,
    "teachers": 2,
    "annotate": 3,
    "distillation": 4,
    "evaluation": 5,
    "cli": 6,
    "__main__": 7,
}
# Shared by all, importing none of the stages.
SHARED = {"__init__", "about", "types", "errors", "util", "classifier", "label_kind"}
MAX_LINES = 500


def unit_of(module: str) -> str:
    """The stage or shared module that ``spacy_kd.a.b`` belongs to (``a``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> List[Tuple[str, int]]:
    """Every ``spacy_kd`` module that ``path`` imports, with the line, relative
    imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == "spacy_kd":
                # ``from . import x`` / ``from spacy_kd import x``: x is the module
                found += [(f"{target}.{a.name}", node.lineno) for a in node.names]
            else:
                found.append((target, node.lineno))
    return [(m, line) for m, line in found if m.split(".")[0] == "spacy_kd"]


def unit_graph() -> Dict[str, Dict[str, List[str]]]:
    """unit -> imported unit -> ["file:line", ...] (imports within a unit left out)."""
    graph: Dict[str, Dict[str, List[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path))
        for target, line in imported_modules(path):
            dest = unit_of(target)
            if dest != source:
                where = f"{path.relative_to(PACKAGE.parent)}:{line}"
                graph[source][dest].append(where)
    return graph


def find_cycle(graph: Dict[str, Dict[str, List[str]]]) -> List[str]:
    """One cycle of units as [a, b, ..., a], or [] if there is none."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, {}):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def test_find_cycle_finds_one_and_only_one():
    acyclic = {"a": {"b": ["x"]}, "b": {"c": ["y"]}}
    assert find_cycle(acyclic) == []
    cyclic = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}
    assert find_cycle(cyclic) == ["a", "b", "c", "a"]


def test_imports_are_found_in_every_form(tmp_path):
    root = tmp_path / "spacy_kd"
    (root / "annotate").mkdir(parents=True)
    source = root / "annotate" / "run.py"
    source.write_text(
        "import os\n"
        "import spacy_kd.data.texts\n"
        "from spacy_kd.util import EPS\n"
        "from . import pseudo\n"
        "from ..distillation import losses\n"
        "from .. import errors\n"
        "def f():\n"
        "    from spacy_kd.evaluation import metrics\n",
        encoding="utf-8",
    )
    found = sorted(m for m, _ in imported_modules(source, root))
    assert found == [
        "spacy_kd.annotate.pseudo",
        "spacy_kd.data.texts",
        "spacy_kd.distillation",
        "spacy_kd.errors",
        "spacy_kd.evaluation",
        "spacy_kd.util",
    ]


def test_no_import_cycle_between_packages():
    graph = unit_graph()
    cycle = find_cycle(graph)
    where = [graph[a][b][0] for a, b in zip(cycle, cycle[1:])]
    assert not cycle, f"import cycle {' -> '.join(cycle)} at {where}"


def test_every_unit_is_a_known_stage_or_shared():
    units: Set[str] = {unit_of(module_name(p)) for p in PACKAGE.rglob("*.py")}
    unknown = units - set(STAGES) - SHARED
    assert not unknown, f"add {sorted(unknown)} to STAGES or SHARED in this test"


def test_arrows_point_one_way():
    wrong = []
    for source, targets in unit_graph().items():
        for dest, places in targets.items():
            if source in SHARED and dest in STAGES:
                wrong.append(f"shared {source} imports stage {dest} at {places}")
            elif source in STAGES and dest in STAGES:
                if STAGES[dest] > STAGES[source] or (
                    STAGES[dest] == STAGES[source] and dest != source
                ):
                    wrong.append(f"{source} imports later stage {dest} at {places}")
    assert not wrong, "\n".join(wrong)


def test_no_module_over_max_lines():
    sizes = {
        str(p.relative_to(PACKAGE.parent)): len(
            p.read_text(encoding="utf-8").splitlines()
        )
        for p in PACKAGE.rglob("*.py")
    }
    long = {path: n for path, n in sizes.items() if n > MAX_LINES}
    assert not long, long
