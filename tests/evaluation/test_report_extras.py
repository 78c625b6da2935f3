"""``spacy_kd report`` beyond the main test set: extra (cross-domain) test sets with
label maps and the gain kept on each, the teachers' calibration and their ensemble
from a real annotate run, and torch-free speed runs (with the tokenizer alone)."""

import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy
import pytest
import spacy
from training_folder import TEST, make_training, place, train_pair
from typer.testing import CliRunner

from spacy_kd.annotate.calibration import apply_temperature, expected_calibration_error
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.errors import DataError
from spacy_kd.evaluation import evaluate, training_report
from spacy_kd.evaluation.ensemble import (
    AnnotateRun,
    ensemble_accuracy,
    ensemble_scores,
    kept_scores,
    read_annotate_run,
    stored_dev_results,
    teacher_calibration,
)
from spacy_kd.evaluation.extra_sets import map_labels, read_label_map
from spacy_kd.evaluation.gold import load_gold
from spacy_kd.evaluation.measure import TORCH_STACK, measure_pipeline
from spacy_kd.evaluation.metrics import score_cats
from spacy_kd.evaluation.report import PipelineResult
from spacy_kd.evaluation.training_report import report_training

ROWS = [json.loads(line) for line in TEST.read_text().splitlines() if line.strip()]
RENAMED = {"alt.atheism": "atheism", "misc.forsale": "forsale"}
LABEL_MAP = {"atheism": "alt.atheism", "forsale": None}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return train_pair(tmp_path_factory.mktemp("extras_models"))


def _write(rows, path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def other_domain(tmp_path):
    """The test set under other label names, with its label map; and the docs it
    keeps once mapped, under the models' names (misc.forsale maps to nothing)."""
    renamed = [
        {**row, "label": RENAMED.get(row["label"], row["label"])} for row in ROWS
    ]
    kept = [row for row in ROWS if row["label"] != "misc.forsale"]
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps(LABEL_MAP))
    other = _write(renamed, tmp_path / "other.jsonl")
    return other, mapping, _write(kept, tmp_path / "kept.jsonl")


# ----- label maps -----------------------------------------------------------------


def test_label_map_renames_merges_and_drops(tmp_path):
    rows = [
        {"text": "a", "labels": ["x", "y"]},
        {"text": "b", "labels": ["gone"]},
        {"text": "c", "labels": ["z", "gone"]},
        {"text": "d", "labels": []},
    ]
    gold = load_gold(_write(rows, tmp_path / "ml.jsonl"))
    mapping = {"x": "A", "y": "A", "gone": None, "z": "B"}
    mapped = map_labels(gold, mapping, ["A", "B", "C"], name="ml", map_path="m.json")
    # b loses its only label: dropped; d never had one: kept
    assert mapped.texts == ["a", "c", "d"]
    assert mapped.cats == [
        {"A": 1.0, "B": 0.0},
        {"A": 0.0, "B": 1.0},
        {"A": 0.0, "B": 0.0},
    ]
    assert mapped.labels == ["A", "B"]
    assert mapped.info == {
        "label_map": "m.json",
        "n_dropped": 1,
        "labels_dropped": ["gone"],
    }
    # without a map, labels the models lack are named
    with pytest.raises(
        DataError, match=r"not the models' labels: \[gone, x, y, z\]"
    ) as e:
        map_labels(gold, None, ["A", "B"], name="ml")
    assert "--label-map ml=MAPPING.json" in str(e.value)
    # labels neither mapped nor the models'
    with pytest.raises(DataError, match=r"nor in the label map m.json: \[y\]$"):
        map_labels(gold, {"x": "A", "z": "B"}, ["A", "B", "gone"], name="ml",
                   map_path="m.json")  # fmt: skip
    with pytest.raises(DataError, match=r"labels the models lack: \[Q\]"):
        map_labels(gold, {**mapping, "z": "Q"}, ["A", "B"], name="ml")
    labelled = load_gold(_write(rows[:3], tmp_path / "labelled.jsonl"))
    with pytest.raises(DataError, match="no doc is left"):
        map_labels(labelled, {"x": None, "y": None, "gone": None, "z": None}, ["A"],
                   name="ml")  # fmt: skip
    bad = tmp_path / "bad.json"
    for text, problem in (("[1]", "a JSON object"), ('{"x": 1}', "or null, not"),
                          ("{", "not a JSON label map")):  # fmt: skip
        bad.write_text(text)
        with pytest.raises(DataError, match=problem):
            read_label_map(bad)


# ----- speed runs without torch ---------------------------------------------------


def test_speed_worker_cannot_import_the_torch_stack(models):
    """Hidden, none of torch, transformers, spacy-transformers is found or imported;
    not hidden, thinc imports torch where it is installed (the test's power)."""
    texts = [row["text"] for row in ROWS[:4]]
    hidden = measure_pipeline(models[1], texts, n_warmup=1, hide=TORCH_STACK)
    assert hidden.extra["hidden_unavailable"] == list(TORCH_STACK)
    assert hidden.extra["torch_stack_imported"] == [] and hidden.torch_threads is None
    shown = measure_pipeline(models[1], texts, n_warmup=1)
    assert shown.extra["hidden"] == [] and shown.extra["hidden_unavailable"] == []
    if importlib.util.find_spec("torch") is not None:
        assert "torch" in shown.extra["torch_stack_imported"]


# ----- the whole report -----------------------------------------------------------


def _probs(model: Path, labels):
    nlp = spacy.load(model)
    return numpy.asarray(
        [[doc.cats[x] for x in labels] for doc in nlp.pipe(r["text"] for r in ROWS)]
    )


def test_report_with_extra_set_calibration_and_ensemble(models, other_domain, tmp_path):
    training = make_training(*models, tmp_path / "training")
    teachers = [training / f"teacher_{n}" / "model-best" for n in ("alpha", "zeta")]
    # a real annotate run, its weights and temperatures fitted on dev = the test set
    annotate(teachers, TEST, training / "pseudo", weights_from_dev=TEST, progress=False)
    summary = json.loads((training / "pseudo" / "summary.json").read_text())
    other, mapping, kept = other_domain
    result = CliRunner().invoke(
        app,
        ["report", str(training), "--data", str(TEST), "--n-speed-docs", "4",
         "--reference", "teacher_zeta", "--extra-test", f"other={other}",
         "--label-map", f"other={mapping}", "--dev", str(TEST)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((training / "report.json").read_text())
    markdown = (training / "report.md").read_text()
    rows = {p["name"]: p for p in report["pipelines"]}
    ens = "ensemble (teachers combined)"
    assert list(rows) == ["stock", "baseline_x", "teacher_alpha", "teacher_zeta", ens,
                          "student_one", "student_two"]  # fmt: skip

    # the extra set: mapped, 5 docs dropped, every row scored as on the kept docs
    info = report["extra_data"]["other"]
    assert (info["n_docs"], info["n_dropped"]) == (95, 5)
    assert info["label_map"] == str(mapping) and info["labels_dropped"] == ["forsale"]
    alone = evaluate([models[0], models[1]], kept, measure_speed=False)
    for name, i in (("stock", 0), ("student_one", 1)):
        expected = json.loads(json.dumps(alone.pipelines[i].accuracy.to_dict()))
        assert rows[name]["extra_tests"]["other"] == expected
    assert all("other" in p["extra_tests"] for p in rows.values())
    assert "## Test set other" in markdown and "5 docs whose labels map" in markdown

    # calibration: stored dev numbers, test ECE measured (dev = test here, so equal)
    labels = json.loads((training / "pseudo" / "manifest.json").read_text())["labels"]
    gold = numpy.asarray([[float(r["label"] == x) for x in labels] for r in ROWS])
    calibration = report["calibration"]
    assert calibration["found"] and calibration["weights"] == dict(
        zip(summary["teachers"], summary["weights"])
    )
    mixed = 0.0
    for name, path in zip(("teacher_alpha", "teacher_zeta"), teachers):
        row = calibration["teachers"][name]
        t = summary["calibration"]["temperatures"][name]
        assert row["temperature"] == t
        assert row["ece_dev_before"] == summary["calibration"]["ece_dev_before"][name]
        p = _probs(path, labels)
        assert row["ece_test_before"] == pytest.approx(
            expected_calibration_error(p, gold, False), abs=1e-6
        )
        after = apply_temperature(p, t, False)
        assert row["ece_test_after"] == pytest.approx(
            expected_calibration_error(after, gold, False), abs=1e-6
        )
        assert row["ece_test_after"] == pytest.approx(row["ece_dev_after"], abs=1e-6)
        mixed = mixed + calibration["weights"][name] * after
    # the ensemble: calibrated probabilities mixed by the stored weights
    expected = score_cats([{r["label"]: 1.0} for r in ROWS], mixed, labels,
                          multi_label=False).macro_f  # fmt: skip
    ensemble = calibration["ensemble"]
    assert ensemble["test_macro_f"] == pytest.approx(expected)
    assert rows[ens]["accuracy"]["macro_f"] == pytest.approx(expected)
    assert ensemble["dev_macro_f"] == pytest.approx(expected)  # dev = test
    assert ensemble["dev_data"] == str(TEST) and "other" in ensemble["extra_macro_f"]
    assert rows[ens]["speed"] is None and rows[ens]["role"] == "ensemble"
    assert rows[ens]["agreement"]["reference"] == "teacher_zeta"
    line = next(x for x in markdown.splitlines() if x.startswith(f"| {ens} |"))
    assert line.endswith("| - | - | - | - | - | - | - | - |")  # no speed, no disk
    assert "## Teachers' calibration and their ensemble" in markdown
    assert "| teacher_alpha |" in markdown.split("calibration and their")[1]

    # the gain kept, on the test set and the extra one, by the student chosen on dev
    kept_by_set = report["targets"]["gain_kept"]
    assert list(kept_by_set) == ["test", "other"]
    for key, entry in kept_by_set.items():
        f1 = {
            n: p["accuracy"]["macro_f"] if key == "test"
            else p["extra_tests"][key]["macro_f"]
            for n, p in rows.items()
        }  # fmt: skip
        top = max(("teacher_alpha", "teacher_zeta"), key=f1.get)
        assert (entry["student"], entry["baseline"], entry["teacher"]) == (
            "student_one", "baseline_x", top,
        )  # fmt: skip
        gain = f1[top] - f1["baseline_x"]
        want = (f1["student_one"] - f1["baseline_x"]) / gain if gain > 0 else None
        assert entry["kept"] == pytest.approx(want)
        assert entry["ensemble"]["teacher_macro_f"] == pytest.approx(f1[ens])
    section = markdown[markdown.index("## The talk's targets") :]
    assert "| gain kept: (best student - baseline_x) / (" in section
    assert "| other | student_one " in section


def test_report_reads_the_teachers_dev_scores_from_the_annotate_run(
    models, tmp_path, monkeypatch
):
    """annotate keeps its teachers' probabilities on dev; the report uses them where
    they come from the same dev file and teacher folders, else runs the teachers."""
    training = make_training(*models, tmp_path / "training")
    teachers = [training / f"teacher_{n}" / "model-best" for n in ("alpha", "zeta")]
    pseudo = training / "pseudo"
    annotate(teachers, TEST, pseudo, weights_from_dev=TEST, progress=False)
    run = read_annotate_run(pseudo)
    dev = load_gold(TEST)
    names = ["teacher_alpha", "teacher_zeta"]
    ran = evaluate([str(t) for t in teachers], dev, names=names,
                   measure_speed=False, keep_scores=True)  # fmt: skip
    results = {p.name: p for p in ran.pipelines}
    stored = stored_dev_results(run, results, dev)
    assert stored is not None and set(stored) == set(names)
    for name in names:  # what the teachers give when run on dev again
        assert numpy.allclose(
            kept_scores(stored[name], run.labels, None),
            kept_scores(results[name], run.labels, None), atol=1e-9,
        )  # fmt: skip
        assert stored[name].accuracy.macro_f == pytest.approx(
            results[name].accuracy.macro_f
        )
    # other dev data, another teacher folder, or no stored scores: not used
    other_dev = _write(ROWS[:-1], tmp_path / "dev.jsonl")
    assert stored_dev_results(run, results, load_gold(other_dev)) is None
    swapped = {**results, "teacher_zeta": dataclasses.replace(
        results["teacher_zeta"], path=str(teachers[0]))}  # fmt: skip
    assert stored_dev_results(run, swapped, dev) is None

    # the whole report: the teachers do not run on dev, and its dev numbers are the
    # same as when they do (no dev_scores.json)
    dev_runs = []
    real_evaluate = training_report.evaluate

    def spy(paths, gold, **kwargs):
        dev_runs.append(gold.path)
        return real_evaluate(paths, gold, **kwargs)

    monkeypatch.setattr(training_report, "evaluate", spy)
    args = dict(sample=0, n_speed_docs=2, dev=TEST, labelled=TEST)

    def reported():
        report_training(training, TEST, **args)
        data = json.loads((training / "report.json").read_text())
        prior = data["teacher_label_prior"]
        return (data["calibration"]["ensemble"]["dev_macro_f"],
                {n: e["macro_f_before"]["dev"] for n, e in prior.items()},
                {n: e["macro_f_after"]["dev"] for n, e in prior.items()})  # fmt: skip

    with_stored = reported()
    assert dev_runs == [str(TEST)]  # the test set's evaluation only
    (pseudo / "dev_scores.json").unlink()
    dev_runs.clear()
    rerun = reported()
    assert dev_runs == [str(TEST), str(TEST)]  # and the teachers on dev
    assert with_stored[0] == pytest.approx(rerun[0])
    for a, b in zip(with_stored[1:], rerun[1:]):
        assert set(a) == set(names) and a == pytest.approx(b)


def test_report_refuses_bad_extra_sets(models, other_domain, tmp_path):
    training = make_training(*models, tmp_path / "training")
    other, mapping, _ = other_domain
    base = ["report", str(training), "--data", str(TEST)]

    def run(*args):
        return CliRunner().invoke(app, [*base, *args])

    result = run("--extra-test", f"other={other}")
    assert result.exit_code == 1
    assert "test set other: labels not the models' labels" in result.output
    assert "[atheism, forsale]" in result.output
    result = run("--extra-test", f"other={other}", "--label-map", f"else={mapping}")
    assert result.exit_code == 1 and "--label-map for else" in result.output
    for option, value in (("--extra-test", "other"), ("--extra-test", f"test={other}"),
                          ("--label-map", "=x.json")):  # fmt: skip
        result = run(option, value)
        assert result.exit_code == 2 and option in result.output, result.output
    result = run("--extra-test", f"a={other}", "--extra-test", f"a={other}")
    assert result.exit_code == 2 and "given twice" in result.output
    # comma-separated in one value (as project.yml passes a var), and an empty value
    result = run("--extra-test", f"a={other},a={other}")
    assert result.exit_code == 2 and "given twice" in result.output
    result = run("--extra-test", f"other={other}, ", "--label-map", "")
    assert result.exit_code == 1 and "test set other: labels not" in result.output
    result = run("--pseudo", str(tmp_path))
    assert result.exit_code == 1 and "no annotate run here" in result.output
    assert not (training / "report.json").exists()


# ----- the ensemble, by hand --------------------------------------------------------


def _result(name, labels, scores, gold, multi):
    accuracy = score_cats(gold.cats, scores[:, [labels.index(x) for x in gold.labels]],
                          gold.labels, multi_label=multi)  # fmt: skip
    return PipelineResult(
        name=name, path=name, component="c", factory="f", multi_label=multi,
        labels=labels, accuracy=accuracy, scores=scores,
    )  # fmt: skip


def test_ensemble_calibrates_per_label_and_mixes_in_the_run_label_order(tmp_path):
    """Multi-label: per-label temperatures in the run's label order, teachers whose
    label order differs, weights that do not sum to 1; checked against a float64
    computation by hand (sigmoid of logit / T)."""
    rows = [{"text": "a", "labels": ["A"]}, {"text": "b", "labels": ["A", "B"]},
            {"text": "c", "labels": []}, {"text": "d", "labels": ["B"]}]  # fmt: skip
    gold = load_gold(_write(rows, tmp_path / "g.jsonl"))
    p1 = numpy.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.1], [0.4, 0.8]])  # A, B
    p2 = numpy.array([[0.3, 0.7], [0.5, 0.4], [0.2, 0.45], [0.6, 0.35]])  # B, A
    results = {
        "one": _result("one", ["A", "B"], p1, gold, True),
        "two": _result("two", ["B", "A"], p2, gold, True),
    }
    run = AnnotateRun(
        folder=tmp_path, teachers=["one", "two"], weights=[3.0, 1.0],
        temperatures={"one": [2.0, 0.5]}, labels=["A", "B"], multi_label=True,
    )  # fmt: skip

    def at(p, t):
        z = numpy.log(p) - numpy.log1p(-p)
        return 1.0 / (1.0 + numpy.exp(-z / numpy.asarray(t)))

    expected = 0.75 * at(p1, [2.0, 0.5]) + 0.25 * p2[:, ::-1]
    numpy.testing.assert_allclose(ensemble_scores(run, results), expected, rtol=1e-9)
    accuracy = ensemble_accuracy(run, results, gold)
    decided = expected >= 0.5
    truth = numpy.array([[1, 0], [1, 1], [0, 0], [0, 1]], dtype=bool)
    tp = (decided & truth).sum()
    micro_f = 2 * tp / (2 * tp + (decided & ~truth).sum() + (~decided & truth).sum())
    assert accuracy.micro_f == pytest.approx(micro_f)
    calibration = teacher_calibration(run, results, gold)
    assert calibration["two"]["ece_test_after"] is None  # not calibrated
    assert calibration["one"]["ece_test_after"] == pytest.approx(
        expected_calibration_error(at(p1, [2.0, 0.5]), truth.astype(float), True)
    )
    # a teacher of the run that was not evaluated: no ensemble
    assert ensemble_scores(run, {"one": results["one"]}) is None


def test_annotate_run_is_read_or_refused(tmp_path):
    assert read_annotate_run(tmp_path) is None
    (tmp_path / "summary.json").write_text('{"teachers": ["a"], "weights": []}')
    with pytest.raises(DataError, match="0 weights for 1 teachers"):
        read_annotate_run(tmp_path)
    (tmp_path / "summary.json").write_text('{"teachers": ["a"]}')
    with pytest.raises(DataError, match="not an annotate summary"):
        read_annotate_run(tmp_path)
    (tmp_path / "summary.json").write_text('{"teachers": ["a"], "weights": [1]}')
    run = read_annotate_run(tmp_path)
    assert (run.teachers, run.weights, run.temperatures, run.labels) == (
        ["a"], [1.0], {}, None,
    )  # fmt: skip


def test_report_gives_a_byte_identical_copy_its_originals_numbers(
    models, tmp_path, monkeypatch
):
    """A student `students` copied (copied_from) is not run again while its model
    is still its original's byte for byte; an edited copy is measured itself."""
    training = make_training(*models, tmp_path / "training")
    listing_path = training / "students" / "students.json"
    listing = json.loads(listing_path.read_text())
    one = training / "students" / "student_one" / "model-best"
    for name, dev in (("student_copy", None), ("student_edited", 0.5)):
        path = place(one, training / "students" / name / "model-best", dev)
        listing.append({"name": name, "role": "student", "arch": "x",
                        "baseline": "baseline_x", "path": str(path),
                        "copied_from": "student_one"})  # fmt: skip
    listing_path.write_text(json.dumps(listing))
    measured = []
    real_evaluate = training_report.evaluate

    def spy(paths, gold, **kwargs):
        measured.append(list(kwargs["names"]))
        return real_evaluate(paths, gold, **kwargs)

    monkeypatch.setattr(training_report, "evaluate", spy)
    report, _ = report_training(training, TEST, n_speed_docs=2)
    assert "student_copy" not in measured[0] and "student_edited" in measured[0]
    names = [p.name for p in report.pipelines]
    assert names[-3:] == ["student_two", "student_copy", "student_edited"]
    copy, original = report["student_copy"], report["student_one"]
    assert copy.accuracy == original.accuracy and copy.speed == original.speed
    assert copy.path == str(training / "students" / "student_copy" / "model-best")
    assert "byte-identical copy of student_one" in copy.note
    assert copy.role == "student" and report["student_edited"].note is None
    data = json.loads((training / "report.json").read_text())
    row = next(p for p in data["pipelines"] if p["name"] == "student_copy")
    assert row["speed"] == next(
        p["speed"] for p in data["pipelines"] if p["name"] == "student_one"
    )
