"""Every spaCy function named in setup.py's entry points resolves in a fresh process."""

import ast
import json
import os
import subprocess
import sys

from conftest import REPO_ROOT


def declared_entry_points():
    """ENTRY_POINTS parsed from setup.py (the source of truth, not the installed)."""
    tree = ast.parse((REPO_ROOT / "setup.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", None) == "ENTRY_POINTS"
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no ENTRY_POINTS")


SCRIPT = r"""
import json, sys
import spacy
from spacy.language import Language
from spacy.util import registry
out = {}
for group, name, target in json.loads(sys.argv[1]):
    reg = group[len("spacy_"):]
    if reg == "factories":
        # component factories are registered when a Language is created
        spacy.blank("en")
        assert Language.has_factory(name), name
        func = registry.factories.get(Language.get_factory_name(name))
    else:
        func = registry.get(reg, name)
    module, attr = target.split(":")
    out[name] = [func.__module__, func.__name__, module, attr.split(".")[-1]]
print(json.dumps(out))
"""


def test_every_registered_name_resolves_in_fresh_interpreter():
    entries = []
    for group, lines in declared_entry_points().items():
        if not group.startswith("spacy_"):
            continue
        for line in lines:
            name, target = (part.strip() for part in line.split("="))
            assert name.startswith("spacy-kd.") or group == "spacy_factories", name
            entries.append((group, name, target))
    assert entries, "no spaCy entry points declared"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(entries)],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    for _group, name, _target in entries:
        func_module, func_name, module, attr = resolved[name]
        assert func_module == module and func_name == attr, (name, resolved[name])


def test_console_script_and_module_help():
    env = dict(os.environ, COLUMNS="200")
    result = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "--help"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for command in ("data", "annotate", "score-pseudo", "pretrain-elmo", "students",
                    "evaluate", "report", "fetch-minilm"):  # fmt: skip
        assert f" {command} " in result.stdout, command
    result = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "data", "--help"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for command in ("convert", "split", "fetch-20ng", "prepare"):
        assert f" {command} " in result.stdout, command
