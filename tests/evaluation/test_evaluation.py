"""``spacy_kd.evaluation`` and ``python -m spacy_kd evaluate`` on small real pipelines.

The pipelines are stock spaCy text classifiers trained for a few epochs on the 200-doc
20 Newsgroups fixture; metrics are checked against spaCy's own Scorer, hand-worked
examples and brute force, and speed/memory against fresh-process guarantees (never a
wall-clock bound).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import spacy
from conftest import DATA_DIR, REPO_ROOT
from helpers import train_bow_textcat, write_multilabel
from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.vectors import Vectors
from typer.testing import CliRunner

from spacy_kd.classifier import find_text_classifier
from spacy_kd.cli import app
from spacy_kd.data.readers import create_textcat_corpus_reader
from spacy_kd.errors import DataError
from spacy_kd.evaluation import evaluate
from spacy_kd.evaluation.metrics import (
    agreement,
    decisions,
    score_cats,
    tune_thresholds,
)
from spacy_kd.evaluation.runner import pipeline_names

TRAIN = DATA_DIR / "20ng_train.jsonl"
TEST = DATA_DIR / "20ng_test.jsonl"
SCORE_KEYS = ("micro_p", "micro_r", "micro_f", "macro_p", "macro_r", "macro_f")
SPACY_TINY = {"n_speed_docs": 12, "n_warmup": 2, "batch_size": 8}


# ----- fixtures: tiny real data and pipelines -----------------------------------------


def _train_textcat(
    train: Path, out: Path, *, multi_label: bool, epochs: int, seed: int = 0
) -> Path:
    return train_bow_textcat(
        create_textcat_corpus_reader(train), out, multi_label=multi_label, length=2**14,
        epochs=epochs, batch_size=16, seed=seed,
    )  # fmt: skip


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evaluation")


@pytest.fixture(scope="module")
def ml_train(work) -> Path:
    return write_multilabel(TRAIN, work / "train_ml.jsonl")


@pytest.fixture(scope="module")
def ml_test(work) -> Path:
    return write_multilabel(TEST, work / "test_ml.jsonl")


@pytest.fixture(scope="module")
def excl(work) -> Path:
    """An exclusive BOW textcat, 20 classes."""
    return _train_textcat(
        TRAIN, work / "excl" / "model-best", multi_label=False, epochs=6
    )


@pytest.fixture(scope="module")
def excl_weak(work) -> Path:
    """The same architecture trained for a single epoch (a different classifier)."""
    return _train_textcat(
        TRAIN, work / "weak" / "model-best", multi_label=False, epochs=1
    )


@pytest.fixture(scope="module")
def multi(work, ml_train) -> Path:
    """A multi-label BOW textcat_multilabel, 27 labels."""
    return _train_textcat(ml_train, work / "multi", multi_label=True, epochs=10)


@pytest.fixture(scope="module")
def large(work, excl) -> Path:
    """The exclusive pipeline plus a 50,000 x 400 vectors table (~76 MiB)."""
    nlp = spacy.load(excl)
    data = np.ones((50_000, 400), dtype="float32")
    nlp.vocab.vectors = Vectors(data=data, keys=list(range(1, 50_001)))
    out = work / "large"
    nlp.to_disk(out)
    return out


@pytest.fixture(scope="module")
def no_textcat(work) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    out = work / "no_textcat"
    nlp.to_disk(out)
    return out


def _predictions(path: Path, data: Path):
    """Examples (prediction, gold) made independently of spacy_kd.evaluation."""
    nlp = spacy.load(path)
    golds = list(create_textcat_corpus_reader(data)(nlp))
    preds = list(nlp.pipe([eg.reference.text for eg in golds]))
    return nlp, [Example(p, eg.reference) for p, eg in zip(preds, golds)]


# ----- accuracy equals spaCy's Scorer -------------------------------------------------


@pytest.mark.parametrize("kind", ["exclusive", "multi-label"])
def test_scores_equal_spacy_scorer(kind, excl, multi, ml_test):
    path, data = (excl, TEST) if kind == "exclusive" else (multi, ml_test)
    report = evaluate([path], data, measure_speed=False)
    result = report.pipelines[0]
    assert result.multi_label is (kind == "multi-label")
    nlp, examples = _predictions(path, data)
    textcat = nlp.get_pipe(result.component)
    expected = Scorer.score_cats(
        examples,
        "cats",
        labels=textcat.labels,
        multi_label=kind == "multi-label",
        threshold=0.5,
    )
    for key in SCORE_KEYS:
        assert getattr(result.accuracy, key) == pytest.approx(
            expected[f"cats_{key}"], abs=1e-12
        )
    for label, prf in expected["cats_f_per_type"].items():
        ours = result.accuracy.per_label[label]
        assert (ours.p, ours.r, ours.f) == pytest.approx(
            (prf["p"], prf["r"], prf["f"]), abs=1e-12
        )
    # And spaCy's pipeline-level evaluation (the textcat's own scorer) agrees too.
    spacy_scores = nlp.evaluate(
        [Example(nlp.make_doc(eg.reference.text), eg.reference) for eg in examples]
    )
    assert result.accuracy.macro_f == pytest.approx(
        spacy_scores["cats_macro_f"], abs=1e-12
    )
    assert result.accuracy.micro_f == pytest.approx(
        spacy_scores["cats_micro_f"], abs=1e-12
    )
    assert result.accuracy.n_docs == 100
    # it really learned something (chance is 5%; multi-label: precise, few labels > 0.5)
    if kind == "exclusive":
        assert result.accuracy.micro_f > 0.15
    else:
        assert result.accuracy.micro_p > 0.5 and result.accuracy.micro_f > 0.1
    if kind == "exclusive":
        # exclusive: micro P = R = F = exact-match accuracy
        acc = result.accuracy
        assert (
            acc.micro_p == acc.micro_r == acc.micro_f == pytest.approx(acc.exact_match)
        )
        assert sum(s.support for s in acc.per_label.values()) == 100


@pytest.mark.parametrize("multi_label", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_score_cats_random_equals_scorer(multi_label, seed):
    """Random scores and gold (soft exclusive gold, missing multi-label keys, odd
    thresholds) against Scorer.score_cats."""
    rng = np.random.default_rng(seed)
    labels = ["a", "b", "c", "d", "e"]
    n = 60
    nlp = spacy.blank("en")
    scores = rng.random((n, len(labels))).astype("float32")
    threshold = [0.5, 0.3, 0.7][seed]
    gold, examples = [], []
    for i in range(n):
        if multi_label:
            cats = {
                lab: float(rng.random() < 0.4) for lab in labels if rng.random() > 0.15
            }
            if not cats:
                cats = {"a": 1.0}
        else:
            soft = rng.dirichlet(np.ones(len(labels)))
            cats = {lab: float(v) for lab, v in zip(labels, soft)}
        gold.append(cats)
        pred_doc, ref_doc = nlp.make_doc(f"doc {i}"), nlp.make_doc(f"doc {i}")
        pred_doc.cats = {lab: float(s) for lab, s in zip(labels, scores[i])}
        ref_doc.cats = cats
        examples.append(Example(pred_doc, ref_doc))
    ours = score_cats(
        gold, scores, labels, multi_label=multi_label, thresholds=[threshold] * 5
    )
    expected = Scorer.score_cats(
        examples, "cats", labels=labels, multi_label=multi_label, threshold=threshold
    )
    for key in SCORE_KEYS:
        assert getattr(ours, key) == pytest.approx(expected[f"cats_{key}"], abs=1e-12)
    for label in labels:
        assert ours.per_label[label].f == pytest.approx(
            expected["cats_f_per_type"][label]["f"], abs=1e-12
        )


# ----- hand-worked examples -----------------------------------------------------------


def test_exclusive_exact_match_by_hand():
    labels = ["a", "b", "c"]
    gold = [{"a": 1, "b": 0, "c": 0}, {"a": 0, "b": 1, "c": 0},
            {"a": 0, "b": 0, "c": 1}, {"a": 1, "b": 0, "c": 0}]  # fmt: skip
    scores = np.array(
        [[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]]
    )
    # argmax: a, a, c, a (a tie between a and b resolves to the first label)
    s = score_cats(gold, scores, labels, multi_label=False)
    assert s.exact_match == 0.75
    # a: tp 2, fp 1 -> p 2/3, r 1; b: fn 1 -> 0; c: tp 1 -> 1
    assert (s.per_label["a"].tp, s.per_label["a"].fp, s.per_label["a"].fn) == (2, 1, 0)
    assert s.per_label["b"].f == 0.0 and s.per_label["b"].support == 1
    assert s.per_label["c"].f == 1.0
    assert s.macro_p == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert s.macro_f == pytest.approx((0.8 + 0 + 1) / 3)
    assert s.micro_f == pytest.approx(0.75)


def test_multilabel_exact_match_by_hand():
    labels = ["a", "b", "c"]
    gold = [
        {"a": 1, "b": 1, "c": 0},  # predicted a, b -> exact
        {"a": 0, "b": 1, "c": 0},  # predicted b, c -> wrong (c)
        {"a": 1, "c": 0},  # b unknown; predicted a, b -> exact over the known labels
        {"a": 0, "b": 0, "c": 0},  # predicted nothing -> exact
    ]
    scores = np.array(
        [[0.9, 0.6, 0.1], [0.2, 0.5, 0.5], [0.8, 0.9, 0.3], [0.1, 0.2, 0.49]]
    )
    s = score_cats(gold, scores, labels, multi_label=True)
    assert s.exact_match == 0.75
    # a: tp 2; b: tp 2 (doc 2's b is unknown, not a false positive); c: fp 1
    assert (s.per_label["b"].tp, s.per_label["b"].fp, s.per_label["b"].fn) == (2, 0, 0)
    assert (s.per_label["c"].tp, s.per_label["c"].fp) == (0, 1)
    assert s.micro_p == pytest.approx(4 / 5) and s.micro_r == 1.0
    # a per-label threshold moves the decisions
    s2 = score_cats(gold, scores, labels, multi_label=True, thresholds=[0.5, 0.5, 0.6])
    assert s2.exact_match == 1.0 and s2.micro_f == 1.0


def test_agreement_by_hand():
    ref_scores = np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]])
    scores = np.array([[0.8, 0.2], [0.6, 0.4], [0.7, 0.3], [0.4, 0.6]])
    a = agreement(
        decisions(scores, False), decisions(ref_scores, False), scores, ref_scores,
        reference="teacher",
    )  # fmt: skip
    assert a.exact == 0.75  # doc 1 differs
    assert a.micro_f == pytest.approx(0.75)
    # label 0: tp 2, fp 1 -> F 0.8; label 1: tp 1, fn 1 -> F 2/3
    assert a.macro_f == pytest.approx((0.8 + 2 / 3) / 2)
    assert a.mean_abs_diff == pytest.approx((0.1 * 2 + 0.3 * 2 + 0.1 * 2 + 0.2 * 2) / 8)
    # multi-label: sets {a,b} vs {a}, {} vs {}, {b} vs {b}
    m = decisions(np.array([[0.9, 0.6], [0.1, 0.2], [0.3, 0.7]]), True)
    r = decisions(np.array([[0.9, 0.4], [0.2, 0.1], [0.1, 0.9]]), True)
    a = agreement(m, r, m * 1.0, r * 1.0, reference="t")
    assert a.exact == pytest.approx(2 / 3)
    assert a.micro_f == pytest.approx(2 * 2 / (2 * 2 + 1))  # tp 2, fp 1, fn 0


def test_tune_thresholds_by_hand_and_brute_force():
    labels = ["a", "b", "none"]
    scores = np.array(
        [[0.45, 0.9, 0.3], [0.35, 0.8, 0.2], [0.30, 0.2, 0.9], [0.10, 0.1, 0.1]]
    )
    gold = [{"a": 1, "b": 1, "none": 0}, {"a": 1, "b": 0, "none": 0},
            {"a": 0, "b": 0, "none": 0}, {"a": 0, "b": 0, "none": 0}]  # fmt: skip
    thr = tune_thresholds(gold, scores, labels)
    # a: positives 0.45, 0.35, negatives 0.30, 0.10 -> midpoint 0.325 separates them
    assert thr[0] == pytest.approx(0.325)
    # b: any threshold in (0.8, 0.9] is perfect; the candidate closest to 0.5 is 0.85
    assert thr[1] == pytest.approx(0.85)
    assert thr[2] == 0.5  # no gold positive: the default is kept
    rng = np.random.default_rng(0)
    scores = rng.random((80, 4))
    gold = [
        {lab: float(rng.random() < 0.3 + 0.3 * s[j]) for j, lab in enumerate("wxyz")}
        for s in scores
    ]
    thr = tune_thresholds(gold, scores, list("wxyz"))
    y = np.array([[g[lab] for lab in "wxyz"] for g in gold]) > 0
    for j in range(4):

        def f1(t, j=j):
            p = scores[:, j] >= t
            tp = (p & y[:, j]).sum()
            return 2 * tp / max(2 * tp + (p & ~y[:, j]).sum() + (~p & y[:, j]).sum(), 1)

        grid = max(f1(t) for t in np.linspace(0, 1, 2001))
        assert f1(thr[j]) >= grid - 1e-12


# ----- evaluate(): thresholds, reference, names, classifier detection -----------------


def test_tuned_thresholds_beat_fixed_on_dev(multi, ml_test):
    """Tuned on the data it is scored on, every label's F is at least that at 0.5."""
    fixed = evaluate([multi], ml_test, measure_speed=False)
    tuned = evaluate([multi], ml_test, tune_thresholds_on=ml_test, measure_speed=False)
    result = tuned.pipelines[0]
    assert result.threshold_source.startswith("tuned on")
    assert set(result.thresholds) == set(result.labels)
    assert any(abs(t - 0.5) > 1e-9 for t in result.thresholds.values())
    for label in result.labels:
        assert (
            result.accuracy.per_label[label].f
            >= fixed.pipelines[0].accuracy.per_label[label].f - 1e-12
        )
    # the reported scores are those of the tuned thresholds
    nlp, examples = _predictions(multi, ml_test)
    labels = result.labels
    scores = np.array([[eg.predicted.cats[lab] for lab in labels] for eg in examples])
    gold = [eg.reference.cats for eg in examples]
    again = score_cats(
        gold, scores, labels, multi_label=True,
        thresholds=[result.thresholds[lab] for lab in labels],
    )  # fmt: skip
    assert again.to_dict() == result.accuracy.to_dict()


def test_agreement_with_reference(excl, excl_weak, work):
    copy = work / "copy_of_excl"
    if not copy.exists():
        shutil.copytree(excl, copy)
    report = evaluate(
        [excl, excl_weak, copy], TEST, names=["strong", "weak", "copy"],
        reference="strong", measure_speed=False,
    )  # fmt: skip
    assert report.reference == "strong"
    assert report["strong"].is_reference and report["strong"].agreement is None
    same = report["copy"].agreement
    assert (same.exact, same.micro_f, same.mean_abs_diff) == (1.0, 1.0, 0.0)
    # the weak model's agreement, recomputed from independent predictions
    _, strong = _predictions(excl, TEST)
    _, weak = _predictions(excl_weak, TEST)
    agree = np.mean(
        [
            max(s.predicted.cats, key=s.predicted.cats.get)
            == max(w.predicted.cats, key=w.predicted.cats.get)
            for s, w in zip(strong, weak)
        ]
    )
    assert report["weak"].agreement.exact == pytest.approx(agree)
    assert 0 < agree < 1
    # a reference given as a folder that is not among the pipelines is added
    report = evaluate([excl_weak], TEST, reference=excl, measure_speed=False)
    assert [p.name for p in report.pipelines] == ["weak/model-best", "excl/model-best"]
    assert report.pipelines[1].is_reference
    assert report.pipelines[0].agreement.exact == pytest.approx(agree)


def test_reference_with_other_labels(excl, multi, ml_test):
    with pytest.raises(DataError, match="labels differ"):
        evaluate([multi, excl], TEST, reference=str(excl), measure_speed=False)


def test_pipeline_names_disambiguate(tmp_path):
    paths = [
        tmp_path / "bow" / "model-best",
        tmp_path / "cnn" / "model-best",
        tmp_path / "x",
    ]
    assert pipeline_names(paths) == ["bow/model-best", "cnn/model-best", "x"]
    assert pipeline_names([tmp_path / "a", tmp_path / "b"]) == ["a", "b"]


def test_custom_text_classifier_is_found():
    @Language.factory("test_kd_keyword_cats")
    def make(nlp, name):
        return KeywordCats()

    class KeywordCats:
        labels = ("space", "other")
        multi_label = True

        def __call__(self, doc):
            hit = float("space" in doc.text)
            doc.cats = {"space": hit, "other": 1.0 - hit}
            return doc

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("test_kd_keyword_cats", name="kw")
    clf = find_text_classifier(nlp, "in-memory")
    assert (clf.name, clf.labels, clf.multi_label) == ("kw", ["space", "other"], True)
    with pytest.raises(DataError, match="not a text classifier"):
        find_text_classifier(nlp, "in-memory", component="sentencizer")
    with pytest.raises(DataError, match="no component 'nope'"):
        find_text_classifier(nlp, "in-memory", component="nope")


def test_two_text_classifiers_need_component(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("textcat", name="tc1")
    nlp.add_pipe("textcat_multilabel", name="tc2")
    for name in ("tc1", "tc2"):
        nlp.get_pipe(name).add_label("x")
        nlp.get_pipe(name).add_label("y")
    nlp.initialize()
    with pytest.raises(DataError, match=r"several text classifiers \(tc1, tc2\)"):
        find_text_classifier(nlp, tmp_path)
    assert find_text_classifier(nlp, tmp_path, component="tc2").multi_label is True


# ----- speed and memory ---------------------------------------------------------------


@pytest.fixture(scope="module")
def small_alone(excl):
    return evaluate([excl], TEST, names=["small"], **SPACY_TINY)


def test_memory_of_small_pipeline_isolated_from_large(large, excl, small_alone):
    """Loading (and scoring) a large pipeline first, in this very process, does not show
    in the small pipeline's memory: each is measured in a fresh subprocess."""
    both = evaluate([large, excl], TEST, names=["large", "small"], **SPACY_TINY)
    big, small = both["large"].speed, both["small"].speed
    alone = small_alone.pipelines[0].speed
    # the test has power: the large pipeline really needs more memory ...
    assert big.peak_rss_load_mib > small.peak_rss_load_mib + 60
    assert both["large"].disk_mib > both["small"].disk_mib + 70
    # ... and the small one reports the same memory with or without it before
    for key in ("peak_rss_load_mib", "peak_rss_infer_mib"):
        a, b = getattr(small, key), getattr(alone, key)
        print(
            f"{key}: large {getattr(big, key):.1f}, small after large {a:.1f}, "
            f"alone {b:.1f}"
        )
        assert abs(a - b) <= max(10.0, 0.03 * b), (key, a, b)
    assert (
        len({big.extra["pid"], small.extra["pid"], alone.extra["pid"], os.getpid()})
        == 4
    )


def test_speed_fields(small_alone):
    result = small_alone.pipelines[0]
    s = result.speed
    assert s.n_docs == 12 and s.n_warmup == 2 and s.batch_size == 8
    assert s.n_threads == 1 and s.torch_threads in (None, 1)
    assert s.extra["env_threads"]["OMP_NUM_THREADS"] == "1"
    assert 0 < s.latency_median_s <= s.latency_p95_s
    assert s.docs_per_s > 0 and s.words_per_s > s.docs_per_s
    assert s.extra["rss_start_mib"] <= s.rss_after_import_mib <= s.peak_rss_load_mib
    assert s.peak_rss_load_mib <= s.peak_rss_infer_mib
    # words are spaCy tokens of the sampled texts
    nlp = spacy.blank("en")
    lengths = [len(nlp.make_doc(json.loads(line)["text"])) for line in TEST.open()]
    assert min(lengths) * 12 <= s.n_words <= max(lengths) * 12
    # the worker imports nothing of spacy_kd but itself (no torch-based spacy_kd module)
    assert set(s.extra["spacy_kd_modules_before_load"]) <= {
        "spacy_kd", "spacy_kd.about", "spacy_kd.errors",
        "spacy_kd.evaluation", "spacy_kd.evaluation.worker",
    }  # fmt: skip
    size = sum(f.stat().st_size for f in Path(result.path).rglob("*") if f.is_file())
    assert result.disk_mib == pytest.approx(size / 2**20)


# ----- the command line ---------------------------------------------------------------


def test_cli_writes_json_and_markdown(excl, excl_weak, tmp_path):
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    result = CliRunner().invoke(
        app,
        ["evaluate", str(excl), str(excl_weak), "--data", str(TEST), "--no-speed",
         "--names", "strong,weak", "--reference", "strong", "--per-label",
         "--output", str(out), "--markdown", str(md)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Micro F" in result.output and "alt.atheism" in result.output
    data = json.loads(out.read_text())
    direct = evaluate(
        [excl, excl_weak], TEST, names=["strong", "weak"], reference="strong",
        measure_speed=False,
    ).to_dict()  # fmt: skip
    assert data["pipelines"] == json.loads(json.dumps(direct["pipelines"]))
    text = md.read_text()
    assert "| strong |" in text and "Agree" in text and "## Per-label F" in text
    f = data["pipelines"][1]["accuracy"]["micro_f"]
    assert f"{100 * f:.2f}" in result.output


def test_cli_with_speed_markdown_and_plot(multi, ml_test, tmp_path):
    out, md, png = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "r.png"
    result = CliRunner().invoke(
        app,
        ["evaluate", str(multi), "--data", str(ml_test), "--n-speed-docs", "10",
         "--n-warmup", "2", "--output", str(out), "--markdown", str(md),
         "--plot", str(png), "--plot-metric", "macro_f"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "RSS peak MiB" in result.output
    assert (
        "Measuring speed and memory of multi (1/1) in a fresh process" in result.output
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(out.read_text())
    (p,) = data["pipelines"]
    assert p["multi_label"] and p["speed"]["n_docs"] == 10
    assert p["threshold_source"] == "threshold 0.5"
    assert "ms/doc" in md.read_text() and "fresh process" in md.read_text()


def test_python_m_spacy_kd_evaluate():
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "spacy_kd", "evaluate", "--help"],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for option in (
        "--data",
        "--reference",
        "--tune-thresholds",
        "--n-speed-docs",
        "--plot",
    ):
        assert option in proc.stdout


# ----- bad input: one clear line, exit 1, nothing written -----------------------------


def _fail(args, tmp_path):
    out = tmp_path / "never.json"
    result = CliRunner().invoke(
        app, ["evaluate", *map(str, args), "--output", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert not out.exists()
    return result.output


def test_bad_pipeline_paths(tmp_path, excl):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    out = _fail([tmp_path / "empty", "--data", TEST], tmp_path)
    assert "empty: not a spaCy pipeline: the directory has no config.cfg" in out
    out = _fail([tmp_path / "file.txt", "--data", TEST], tmp_path)
    assert "file.txt: not a spaCy pipeline: expected a directory" in out
    out = _fail([excl, tmp_path / "missing", "--data", TEST], tmp_path)
    assert "missing: pipeline not found" in out
    broken = tmp_path / "broken"
    shutil.copytree(excl, broken)
    (broken / "config.cfg").write_text("[nlp\nlang = en\n")
    out = _fail([broken, "--data", TEST], tmp_path)
    assert "broken: cannot load the spaCy pipeline" in out


def test_pipeline_without_text_classifier(no_textcat, tmp_path):
    out = _fail([no_textcat, "--data", TEST], tmp_path)
    assert "no_textcat: the pipeline has no text classifier" in out
    assert "(components: sentencizer)" in out


def test_labels_do_not_match(excl, tmp_path):
    data = tmp_path / "other.jsonl"
    data.write_text(
        json.dumps({"text": "the rocket launch", "label": "rockets"}) + "\n"
        + json.dumps({"text": "the car", "label": "rec.autos"}) + "\n"
    )  # fmt: skip
    out = _fail([excl, "--data", data], tmp_path)
    assert "other.jsonl: the labels do not match pipeline model-best's" in out
    assert "the data has 2 labels [rec.autos, rockets]" in out
    assert "the pipeline has 20 labels [alt.atheism, comp.graphics" in out
    assert "not in the pipeline: [rockets]" in out


def test_multilabel_data_with_exclusive_pipeline(excl, ml_test, tmp_path):
    out = _fail([excl, "--data", ml_test], tmp_path)
    assert "labels do not match" in out  # the top-level labels are unknown to it
    data = tmp_path / "two.jsonl"
    data.write_text(
        json.dumps({"text": "a b c", "labels": ["sci.space", "sci.med"]}) + "\n"
    )
    out = _fail([excl, "--data", data], tmp_path)
    assert "two.jsonl:1: the gold cats {sci.med: 1, sci.space: 1}" in out
    assert "is exclusive" in out


def test_empty_and_unlabelled_test_sets(excl, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    out = _fail([excl, "--data", empty], tmp_path)
    assert "empty.jsonl: the test set is empty" in out
    DocBin().to_disk(tmp_path / "empty.spacy")
    out = _fail([excl, "--data", tmp_path / "empty.spacy"], tmp_path)
    assert "empty.spacy: the test set is empty" in out
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(
        json.dumps({"text": "a", "label": "sci.med"})
        + "\n"
        + json.dumps({"text": "b"})
        + "\n"
    )
    out = _fail([excl, "--data", unlabelled], tmp_path)
    assert "unlabelled.jsonl:2: unlabelled row" in out
    out = _fail([excl, "--data", tmp_path / "nope.spacy"], tmp_path)
    assert "nope.spacy: test data not found" in out


def test_docbin_test_data(excl, tmp_path):
    """A DocBin gives the same scores as the JSONL it was converted from."""
    from spacy_kd.data.convert import convert

    convert(TEST, tmp_path / "test.spacy")
    a = evaluate([excl], TEST, measure_speed=False).pipelines[0].accuracy
    b = (
        evaluate([excl], tmp_path / "test.spacy", measure_speed=False)
        .pipelines[0]
        .accuracy
    )
    assert a.to_dict() == b.to_dict()
    doc_bin = DocBin(store_user_data=True).from_disk(tmp_path / "test.spacy")
    docs = list(doc_bin.get_docs(spacy.blank("en").vocab))
    docs[3].cats = {}
    DocBin(docs=docs).to_disk(tmp_path / "hole.spacy")
    out = _fail([excl, "--data", tmp_path / "hole.spacy"], tmp_path)
    assert "hole.spacy: doc 3 has no labels" in out


def test_bad_options(excl, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["evaluate", str(excl), "--data", str(TEST), "--names", "a,b"]
    )
    assert result.exit_code == 2 and "2 names for 1 pipelines" in result.output
    result = runner.invoke(
        app,
        ["evaluate", str(excl), "--data", str(TEST), "--no-speed", "--plot", "x.png"],
    )
    assert result.exit_code == 2 and "drop --no-speed" in result.output
    out = _fail([excl, "--data", TEST, "--reference", "nobody", "--no-speed"], tmp_path)
    assert "nobody: the reference is neither the name of one of the pipelines" in out
