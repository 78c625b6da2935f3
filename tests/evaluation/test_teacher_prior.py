"""The report's teachers with the label-prior correction: fitted from a real annotate
run's records (temperatures undone, augmented copies left out) to the gold training
docs' label shares, checked against the same fit on the teachers' own predictions."""

import json

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from training_folder import TEST, TRAIN, make_training, train_pair
from typer.testing import CliRunner

from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data.augment import augment_docbin
from spacy_kd.distillation.prior import apply_prior_weights, fit_prior_weights
from spacy_kd.evaluation.ensemble import AnnotateRun
from spacy_kd.evaluation.gold import load_gold
from spacy_kd.evaluation.metrics import score_cats
from spacy_kd.evaluation.prior import gold_prior
from spacy_kd.evaluation.teacher_prior import SUFFIX, teacher_prior_rows

ROWS = [json.loads(line) for line in TEST.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return train_pair(tmp_path_factory.mktemp("prior_models"))


def _own_probs(model, labels):
    nlp = spacy.load(model)
    return numpy.asarray(
        [[doc.cats[x] for x in labels] for doc in nlp.pipe(r["text"] for r in ROWS)],
        dtype="float64",
    )


def test_report_scores_each_teacher_with_the_label_prior(models, tmp_path):
    training = make_training(*models, tmp_path / "training")
    teachers = [training / f"teacher_{n}" / "model-best" for n in ("alpha", "zeta")]
    # the transfer set: the test docs (as the pool) and one augmented copy of each
    nlp = spacy.blank("en")
    pool = DocBin(store_user_data=True)
    for row in ROWS:
        pool.add(nlp.make_doc(row["text"]))
    pool.to_disk(tmp_path / "pool.spacy")
    augment_docbin(tmp_path / "pool.spacy", tmp_path / "transfer.spacy", copies=1)
    annotate(teachers, tmp_path / "transfer.spacy", training / "pseudo",
             weights_from_dev=TEST, progress=False)  # fmt: skip
    summary = json.loads((training / "pseudo" / "summary.json").read_text())
    assert all(t is not None for t in summary["calibration"]["temperatures"].values())
    result = CliRunner().invoke(
        app,
        ["report", str(training), "--data", str(TEST), "--n-speed-docs", "4",
         "--reference", "teacher_zeta", "--dev", str(TEST), "--labelled", str(TRAIN)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((training / "report.json").read_text())
    rows = {p["name"]: p for p in report["pipelines"]}
    fixed = [f"teacher_alpha{SUFFIX}", f"teacher_zeta{SUFFIX}"]
    assert list(rows) == ["stock", "baseline_x", "teacher_alpha", "teacher_zeta",
                          "ensemble (teachers combined)", *fixed, "student_one",
                          "student_two"]  # fmt: skip

    labels = json.loads((training / "pseudo" / "manifest.json").read_text())["labels"]
    target = gold_prior(load_gold(TRAIN), labels)
    truth = [{r["label"]: 1.0} for r in ROWS]
    info = report["teacher_label_prior"]
    assert list(info) == ["teacher_alpha", "teacher_zeta"]
    for name, path in zip(("teacher_alpha", "teacher_zeta"), teachers):
        entry = info[name]
        # the pool's originals only, the copies left out
        assert entry["n_pool"] == len(ROWS)
        # the records' calibrated probabilities with the temperature undone are the
        # teacher's own: the weights are those fitted on its own predictions
        own = _own_probs(path, labels)
        weights = numpy.array([entry["weights"][x] for x in labels])
        numpy.testing.assert_allclose(
            weights, fit_prior_weights(own, target), rtol=1e-3
        )
        # the pool is the test set here, so the corrected mean matches the target
        numpy.testing.assert_allclose(
            apply_prior_weights(own, weights).mean(axis=0), target, atol=1e-4
        )
        # the row: the teacher's test scores with those weights
        corrected = apply_prior_weights(own, weights)
        expected = score_cats(truth, corrected, labels, multi_label=False).macro_f
        row = rows[name + SUFFIX]
        assert row["accuracy"]["macro_f"] == pytest.approx(expected, abs=1e-9)
        assert row["role"] == "teacher_prior" and row["speed"] is None
        assert entry["macro_f_after"]["test"] == pytest.approx(expected, abs=1e-9)
        before = rows[name]["accuracy"]["macro_f"]
        assert entry["macro_f_before"]["test"] == pytest.approx(before, abs=1e-9)
        assert entry["macro_f_after"]["dev"] == pytest.approx(expected, abs=1e-9)
    markdown = (training / "report.md").read_text()
    section = markdown[markdown.index("## Teachers with the label-prior correction") :]
    assert "| teacher_alpha |" in section and "| teacher_zeta |" in section
    top = max(fixed, key=lambda n: rows[n]["accuracy"]["macro_f"])
    assert f"| best student vs best teacher with the label prior ({top}) |" in markdown


def test_no_label_prior_rows_for_a_multi_label_run(tmp_path):
    run = AnnotateRun(
        folder=tmp_path, teachers=["one"], weights=[1.0], labels=["A", "B"],
        multi_label=True,
    )  # fmt: skip
    gold = load_gold(TEST)
    result = type("R", (), {"scores": numpy.zeros((len(gold), 2))})()
    assert teacher_prior_rows(run, {"one": result}, gold, {}, gold) == ([], {})
