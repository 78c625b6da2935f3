"""The shipped configs, end to end: trained with ``spacy train``, and the exported
student loaded where only spaCy is installed."""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import pytest
import spacy
from pseudo_corpus import DATA, REPO, rows, write_corpus
from spacy.tokens import DocBin
from spacy.util import load_config, load_model_from_config, resolve_dot_names
from thinc.api import Config

from spacy_kd.data.convert import convert

# --- the shipped configs ----------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "_multilabel"])
def test_student_config_is_its_own_baseline_with_no_teacher_data(suffix, tmp_path):
    """The baseline is ``student_bow*.cfg --paths.pseudo null``: it must resolve and
    read the gold docs alone."""
    path = REPO / "configs" / f"student_bow{suffix}.cfg"
    train = tmp_path / "train.spacy"
    convert(DATA, train)
    overrides = {
        "paths.train": str(train),
        "paths.dev": str(train),
        "paths.pseudo": None,
    }
    config = load_config(path, overrides=overrides, interpolate=False)
    assert config["paths"]["pseudo"] is None
    factory = config["components"]["textcat"]["factory"]
    assert factory == ("kd_textcat_multilabel" if suffix else "kd_textcat")
    nlp = load_model_from_config(config, auto_fill=True)
    corpus = resolve_dot_names(config.interpolate(), ["corpora.train"])[0]
    n_gold = len(list(DocBin().from_disk(train).get_docs(nlp.vocab)))
    assert len(list(corpus(nlp))) == n_gold


def test_stock_config_uses_only_spacy_registered_functions():
    text = (REPO / "configs" / "stock_textcat.cfg").read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert "spacy-kd" not in body and "kd_textcat" not in body
    config = Config().from_str(body, interpolate=False)
    assert config["corpora"]["train"]["@readers"] == "spacy.Corpus.v1"
    assert config["components"]["textcat"]["factory"] == "textcat"


# --- a production machine with only spaCy -----------------------------------------


HIDDEN = (
    "torch",
    "torchgen",
    "functorch",
    "transformers",
    "spacy_transformers",
    "spacy_kd",
)

PRODUCTION = r"""
import importlib.util, json, sys
sys.path[:0] = sys.argv[1].split("|")
hidden = json.loads(sys.argv[4])
unavailable = [m for m in hidden if importlib.util.find_spec(m) is None]
import spacy
texts = json.loads(sys.argv[3])
out = {}
for path in json.loads(sys.argv[2]):
    nlp = spacy.load(path)
    out[path] = {
        "cats": [doc.cats for doc in nlp.pipe(texts)],
        "one": [nlp(t).cats for t in texts],
        "unavailable": unavailable,
        "factories": [nlp.get_pipe_meta(n).factory for n in nlp.pipe_names],
        # so far, this pipeline's loading included: a hidden import fails this
        # pipeline and every one after it
        "imported": sorted(m for m in sys.modules if m.split(".")[0] in hidden),
    }
print(json.dumps(out))
"""
# ``python -m spacy train ARGS`` once per ARGS, as ``-m`` runs it (runpy), in one
# fresh interpreter: starting one and importing spaCy, torch and transformers costs
# far more than training a tiny student, and spaCy loads the registered entry points
# (spacy_kd's among them) at its first pipeline, whatever the config.
TRAIN = r"""
import contextlib, io, json, runpy, sys, traceback
runs = []
for argv in json.loads(sys.argv[1]):
    sys.argv = ["spacy", *argv]
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            runpy.run_module("spacy", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else int(e.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
    runs.append({"returncode": code, "output": output.getvalue()})
print(json.dumps(runs))
"""


def production_site(tmp_path, hidden=HIDDEN) -> Path:
    """A site-packages of links to this venv's packages, without torch, transformers,
    spacy-transformers and (unless ``hidden`` leaves it out) spacy_kd: what a
    production machine with only spaCy (and spacy_kd) has. spacy_kd, where kept, is
    its metadata (entry points) here and its code on ``REPO``, as the PRODUCTION
    script's extra path."""
    site = Path(spacy.__file__).resolve().parent.parent
    farm = tmp_path / "production-site"
    farm.mkdir()
    for entry in site.iterdir():
        base = re.split(r"[-.]", entry.name)[0].lower()
        ours = "spacy_kd" in entry.name
        if base in hidden or entry.suffix == ".pth" or (ours and "spacy_kd" in hidden):
            continue
        if ours and not entry.name.endswith(".dist-info"):
            continue  # the editable-install finder: the code comes from REPO
        os.symlink(entry, farm / entry.name)
    return farm


@dataclass
class TrainRun:
    returncode: int
    output: str  # stdout and stderr
    model: Path  # its model-best


def train_students(tmp_path: Path, configs, *args: str) -> Dict[str, TrainRun]:
    """``python -m spacy train configs/CONFIG ARGS`` for each config, on the same
    tiny gold + pseudo data, in one fresh interpreter (TRAIN): config -> its run."""
    gold, folder, _ = write_corpus(tmp_path, n_gold=16)
    argvs = []
    for config in configs:
        argvs.append([
            "train", str(REPO / "configs" / config),
            "--output", str(tmp_path / Path(config).stem),
            "--paths.train", str(gold), "--paths.dev", str(gold),
            "--paths.pseudo", str(folder), "--training.max_steps", "6",
            "--training.eval_frequency", "3", "--nlp.batch_size", "8", *args,
        ])  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", TRAIN, json.dumps(argvs)],
        capture_output=True, text=True, cwd=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    runs = json.loads(result.stdout.splitlines()[-1])
    return {
        config: TrainRun(
            run["returncode"],
            run["output"] + result.stderr,
            tmp_path / Path(config).stem / "model-best",
        )
        for config, run in zip(configs, runs)
    }


def in_production(tmp_path, models, hidden, paths: str) -> Dict[Path, dict]:
    """Load each of ``models`` in ONE fresh interpreter where the ``hidden`` modules
    cannot be imported (``paths``: its sys.path entries, ``|``-separated): model ->
    what PRODUCTION found (check it with ``check_in_production``)."""
    texts = [text for text, _ in rows()[:6]]
    run = subprocess.run(
        [sys.executable, "-S", "-c", PRODUCTION, paths,
         json.dumps([str(m) for m in models]), json.dumps(texts),
         json.dumps(list(hidden))],
        capture_output=True, text=True, cwd=str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout.splitlines()[-1])
    return {Path(path): got for path, got in found.items()}


def check_in_production(model, hidden, got: dict, nlp=None) -> None:
    """``got``, from ``in_production``: ``model`` imports none of the ``hidden``
    modules, which could not be imported, and predicts as it does here (``nlp``:
    ``model`` already loaded)."""
    texts = [text for text, _ in rows()[:6]]
    nlp = spacy.load(model) if nlp is None else nlp
    expected = [doc.cats for doc in nlp.pipe(texts)]
    assert got["unavailable"] == list(hidden)
    assert got["imported"] == []
    assert got["factories"] == ["textcat"]
    assert len(got["cats"]) == len(got["one"]) == len(expected)
    for a, b, c in zip(got["cats"], got["one"], expected):
        assert a == pytest.approx(c, rel=1e-5) and b == pytest.approx(c, rel=1e-5)


@pytest.fixture(scope="module")
def students(tmp_path_factory) -> Dict[str, TrainRun]:
    """configs/student_bow.cfg and configs/student_tfidf.cfg, trained."""
    tmp = tmp_path_factory.mktemp("students")
    return train_students(tmp, ["student_bow.cfg", "student_tfidf.cfg"])


def test_student_trains_with_spacy_train_and_loads_without_spacy_kd(students, tmp_path):
    """configs/student_bow.cfg through plain ``python -m spacy train`` on tiny data:
    the distillation callback, reader, logger and export all run, and the saved
    pipeline loads and predicts in an interpreter where torch, transformers,
    spacy-transformers and spacy_kd cannot even be imported."""
    run = students["student_bow.cfg"]
    assert run.returncode == 0, run.output
    assert re.search(r"LOSS TEXTCAT\s+LOSS GOLD\s+LOSS DISTILL", run.output), run.output
    config = (run.model / "config.cfg").read_text(encoding="utf-8")
    assert 'factory = "textcat"' in config and "kd_textcat" not in config
    paths = str(production_site(tmp_path))
    got = in_production(tmp_path, [run.model], HIDDEN, paths)[run.model]
    check_in_production(run.model, HIDDEN, got)


TORCH_FREE = tuple(m for m in HIDDEN if m != "spacy_kd")


def test_tfidf_student_trains_and_loads_with_spacy_kd_but_without_torch(
    students, tmp_path
):
    """configs/student_tfidf.cfg: its layers are spacy_kd's, so the shipped student
    needs spacy_kd, and must load and predict where torch, transformers and
    spacy-transformers cannot be imported (and import none of them)."""
    run = students["student_tfidf.cfg"]
    assert run.returncode == 0, run.output
    config = (run.model / "config.cfg").read_text(encoding="utf-8")
    assert 'factory = "textcat"' in config and "spacy-kd.TfidfLinear.v1" in config
    paths = f"{production_site(tmp_path, TORCH_FREE)}|{REPO}"
    got = in_production(tmp_path, [run.model], TORCH_FREE, paths)[run.model]
    check_in_production(run.model, TORCH_FREE, got)
