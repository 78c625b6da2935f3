"""The pseudo-label record, the distillation callback, the corpus reader, the logger,
and the shipped configs trained end to end with ``spacy train``."""

import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config, load_model_from_config, registry, resolve_dot_names
from thinc.api import Config

from spacy_kd.annotate.pseudo import (
    AnnotationError,
    combined_probs,
    example_weight,
    is_pseudo,
    mark_pseudo,
    soften_probs,
    teacher_targets,
)
from spacy_kd.data.convert import convert
from spacy_kd.distillation.callbacks import (
    create_distillation_callback,
    linear_schedule,
)
from spacy_kd.distillation.corpus import create_distillation_corpus
from spacy_kd.distillation.loggers import create_console_logger
from spacy_kd.errors import DataError

REPO = Path(__file__).resolve().parent.parent.parent
DATA = REPO / "tests" / "fixtures" / "20ng_train.jsonl"
LABELS = ["comp.graphics", "rec.sport.hockey", "sci.space", "talk.politics.mideast"]


def softmax(z):
    e = numpy.exp(z - z.max())
    return e / e.sum()


def sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


# --- the record -------------------------------------------------------------------


def test_mark_pseudo_combines_teachers_and_survives_a_docbin():
    nlp = spacy.blank("en")
    doc = nlp.make_doc("the shuttle launch")
    p1, p2 = [0.1, 0.2, 0.6, 0.1], [0.3, 0.3, 0.2, 0.2]
    mark_pseudo(
        doc, labels=LABELS, probs={"elmo": p1, "bert": p2},
        weights={"elmo": 1.0, "bert": 3.0}, multi_label=False,
    )  # fmt: skip
    want = 0.25 * numpy.array(p1) + 0.75 * numpy.array(p2)
    numpy.testing.assert_allclose([doc.cats[k] for k in LABELS], want)
    assert is_pseudo(doc)
    data = DocBin(store_user_data=True, docs=[doc]).to_bytes()
    back = next(DocBin(store_user_data=True).from_bytes(data).get_docs(nlp.vocab))
    # msgpack gives lists back as tuples; the values are the same
    assert (
        json.loads(json.dumps(back.user_data["spacy_kd"])) == doc.user_data["spacy_kd"]
    )
    assert list(back.user_data["spacy_kd"]["weights"]) == [0.25, 0.75]
    numpy.testing.assert_allclose(
        teacher_targets(back, LABELS, 2.0), teacher_targets(doc, LABELS, 2.0)
    )
    assert back.cats == pytest.approx(doc.cats)
    gold = nlp.make_doc("gold")
    gold.cats = {k: float(k == "sci.space") for k in LABELS}
    assert not is_pseudo(gold)
    gold.user_data["spacy_kd"] = {"source": "gold"}
    assert not is_pseudo(gold)


def test_hard_marks_argmax_or_threshold_but_keeps_teacher_outputs():
    nlp = spacy.blank("en")
    doc = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"t": [0.1, 0.5, 0.3, 0.1]},
        multi_label=False, hard=True,
    )  # fmt: skip
    assert doc.cats == {
        "comp.graphics": 0,
        "rec.sport.hockey": 1,
        "sci.space": 0,
        "talk.politics.mideast": 0,
    }
    assert doc.user_data["spacy_kd"]["probs"]["t"] == [0.1, 0.5, 0.3, 0.1]
    # hard targets do not soften
    numpy.testing.assert_array_equal(teacher_targets(doc, LABELS, 5.0), [0, 1, 0, 0])
    multi = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"t": [0.7, 0.5, 0.3, 0.9]},
        multi_label=True, hard=True, threshold=0.6,
    )  # fmt: skip
    assert [multi.cats[k] for k in LABELS] == [1, 0, 0, 1]


@pytest.mark.parametrize("multi_label", [False, True])
def test_teacher_targets_resoften_logits_and_probs_alike(multi_label):
    rng = numpy.random.default_rng(0)
    z1, z2 = rng.normal(0, 2, 4), rng.normal(0, 2, 4)
    act = sigmoid if multi_label else softmax
    nlp = spacy.blank("en")
    with_logits = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"a": act(z1).tolist(), "b": act(z2).tolist()},
        logits={"a": z1.tolist(), "b": z2.tolist()}, weights={"a": 0.4, "b": 0.6},
        multi_label=multi_label,
    )  # fmt: skip
    probs_only = mark_pseudo(
        nlp.make_doc("x"), labels=LABELS, probs={"a": act(z1).tolist(), "b": act(z2).tolist()},
        weights={"a": 0.4, "b": 0.6}, multi_label=multi_label,
    )  # fmt: skip
    for T in (1.0, 2.0, 7.5):
        want = 0.4 * act(z1 / T) + 0.6 * act(z2 / T)
        numpy.testing.assert_allclose(
            teacher_targets(with_logits, LABELS, T), want, rtol=1e-10
        )
        numpy.testing.assert_allclose(
            teacher_targets(probs_only, LABELS, T), want, rtol=1e-7
        )
    # at T = 1 the targets are the cats
    numpy.testing.assert_allclose(
        teacher_targets(probs_only, LABELS, 1.0), [probs_only.cats[k] for k in LABELS]
    )
    # another label order is honoured
    order = LABELS[::-1]
    numpy.testing.assert_allclose(
        teacher_targets(with_logits, order, 2.0),
        teacher_targets(with_logits, LABELS, 2.0)[::-1],
    )


def test_soften_probs_handles_zero_and_one():
    numpy.testing.assert_allclose(
        soften_probs(numpy.array([0.0, 1.0, 0.5]), 3.0, multi_label=True),
        [0.0, 1.0, 0.5],
    )
    p = numpy.array([0.0, 0.2, 0.8])
    out = soften_probs(p, 2.0, multi_label=False)
    numpy.testing.assert_allclose(out, numpy.sqrt(p) / numpy.sqrt(p).sum())
    assert combined_probs(
        {"teachers": ["t"], "weights": [1], "labels": ["a", "b"], "probs": {"t": [0.0, 1.0]},
         "multi_label": False}, 4.0,
    ).tolist() == [0.0, 1.0]  # fmt: skip


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"probs": {}}, "at least one teacher"),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "weights": {"u": 1.0}},
            "weights are given for",
        ),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "weights": {"t": -1.0}},
            "weights must be >= 0",
        ),
        ({"probs": {"t": [0.5, 0.5]}}, "2 probs for 4 labels"),
        ({"probs": {"t": [0.5, 0.6, 0, 0]}}, "summing to 1.1"),
        ({"probs": {"t": [1.5, -0.5, 0, 0]}}, r"outside \[0, 1\]"),
        (
            {"probs": {"t": [0.5, 0.5, 0, 0]}, "logits": {"t": [math.inf, 0, 0, 0]}},
            "non-finite logits",
        ),
    ],
)
def test_bad_records_are_refused(kwargs, message):
    with pytest.raises(AnnotationError, match=message):
        mark_pseudo(
            spacy.blank("en").make_doc("x"), labels=LABELS, multi_label=False, **kwargs
        )


# --- the callback -----------------------------------------------------------------


def student_pipeline(multi_label=False, name="textcat"):
    nlp = spacy.blank("en")
    nlp.add_pipe("kd_textcat_multilabel" if multi_label else "kd_textcat", name=name)
    return nlp


def test_callback_drives_temperature_and_alpha_by_step():
    nlp = student_pipeline()
    pipe = nlp.get_pipe("textcat")
    callback = create_distillation_callback(
        temperature=linear_schedule(start=5.0, end=1.0, steps=4), alpha=0.2
    )
    seen = []
    for step in range(7):
        callback(nlp, {"step": step, "epoch": 0})
        seen.append((pipe.temperature, pipe.alpha))
    assert seen == [
        (5.0, 0.2),
        (4.0, 0.2),
        (3.0, 0.2),
        (2.0, 0.2),
        (1.0, 0.2),
        (1.0, 0.2),
        (1.0, 0.2),
    ]


def test_callback_from_config_with_a_thinc_schedule():
    config = Config().from_str(
        """
        [cb]
        @callbacks = "spacy-kd.distillation.v1"
        components = ["second"]

        [cb.alpha]
        @schedules = "spacy-kd.linear.v1"
        start = 0.0
        end = 1.0
        steps = 2

        [cb.temperature]
        @schedules = "decaying.v1"
        base_rate = 8.0
        decay = 1.0
        """
    )
    callback = registry.resolve(config)["cb"]
    nlp = student_pipeline()
    nlp.add_pipe("kd_textcat", name="second")
    for step in range(3):
        callback(nlp, {"step": step, "epoch": 0})
    second, first = nlp.get_pipe("second"), nlp.get_pipe("textcat")
    assert second.alpha == 1.0
    assert second.temperature == pytest.approx(
        8.0 / 3.0
    )  # decaying: base / (1 + decay * t)
    assert (first.temperature, first.alpha) == (1.0, 0.5)  # not driven


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"temperature": 0.0}, "temperature must be > 0, got 0.0 .at step 0"),
        ({"alpha": 1.2}, r"alpha must be in \[0, 1\], got 1.2"),
        (
            {"temperature": linear_schedule(4.0, 0.0, 10)},
            "an end of its spacy-kd.linear.v1 schedule is 0.0",
        ),
        (
            {"alpha": linear_schedule(0.5, -0.5, 10)},
            "an end of its spacy-kd.linear.v1 schedule is -0.5",
        ),
        ({"temperature": iter([])}, "the temperature schedule is empty"),
        ({"temperature": "hot"}, "must be a number or a schedule"),
    ],
)
def test_callback_refuses_bad_values_before_training(kwargs, message):
    with pytest.raises(ValueError, match=message):
        create_distillation_callback(**kwargs)


def test_callback_refuses_a_schedule_that_goes_bad_and_unknown_components():
    callback = create_distillation_callback(temperature=iter([2.0, 1.0, -1.0]))
    nlp = student_pipeline()
    callback(nlp, {"step": 0, "epoch": 0})
    with pytest.raises(ValueError, match="gave -1.0 at step 2"):
        callback(nlp, {"step": 2, "epoch": 0})
    with pytest.raises(ValueError, match="has no student component"):
        create_distillation_callback(alpha=0.5)(
            spacy.blank("en"), {"step": 0, "epoch": 0}
        )
    with pytest.raises(
        ValueError, match=r"\['nope'\] are not enabled student components"
    ):
        create_distillation_callback(components=["nope"])(nlp, {"step": 0, "epoch": 0})


def test_linear_schedule_resolves_in_a_fresh_interpreter():
    """``spacy-kd.linear.v1`` is a thinc_schedules entry point (not covered by the
    spacy_* registry test): a config names it without importing spacy_kd."""
    code = (
        "from spacy.util import registry\n"
        "from thinc.api import Config\n"
        'cfg = Config().from_str(\'[s]\\n@schedules = "spacy-kd.linear.v1"\\n'
        "start = 3.0\\nend = 1.0\\nsteps = 2')\n"
        "s = registry.resolve(cfg)['s']\n"
        "print([next(s) for _ in range(4)])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[3.0, 2.0, 1.0, 1.0]"


# --- the corpus reader ------------------------------------------------------------


def rows():
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["label"] in LABELS:
            out.append((" ".join(row["text"].split()[:50]), row["label"]))
    return out


def write_corpus(tmp_path, n_gold=8, n_shards=2, multi_label=False, mutate=None):
    """gold.spacy plus pseudo/shard-*.spacy; ``mutate(doc, i)`` may spoil pseudo docs."""
    nlp = spacy.blank("en")
    rng = numpy.random.default_rng(0)
    data = rows()
    gold = []
    for text, label in data[:n_gold]:
        doc = nlp.make_doc(text)
        doc.cats = {k: float(k == label) for k in LABELS}
        gold.append(doc)
    DocBin(docs=gold, store_user_data=True).to_disk(tmp_path / "gold.spacy")
    pseudo = []
    for i, (text, label) in enumerate(data[n_gold:]):
        z = 2.0 * numpy.array([k == label for k in LABELS]) + rng.normal(
            0, 1, len(LABELS)
        )
        p = sigmoid(z) if multi_label else softmax(z)
        doc = mark_pseudo(
            nlp.make_doc(text),
            labels=LABELS,
            probs={"t": p.tolist()},
            multi_label=multi_label,
        )
        doc.user_data["spacy_kd_id"] = i
        if mutate is not None:
            mutate(doc, i)
        pseudo.append(doc)
    folder = tmp_path / "pseudo"
    folder.mkdir()
    size = math.ceil(len(pseudo) / n_shards)
    for s in range(n_shards):
        part = pseudo[s * size : (s + 1) * size]
        DocBin(docs=part, store_user_data=True).to_disk(folder / f"shard-{s:05d}.spacy")
    return tmp_path / "gold.spacy", folder, len(pseudo)


def ids(examples):
    return [eg.reference.user_data.get("spacy_kd_id", -1) for eg in examples]


def test_reader_mixes_caps_and_shuffles(tmp_path):
    gold, folder, n_pseudo = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    everything = list(create_distillation_corpus(gold, folder, shuffle=False)(nlp))
    assert len(everything) == 8 + n_pseudo
    assert sum(is_pseudo(eg.reference) for eg in everything) == n_pseudo
    assert ids(everything)[8:] == list(range(n_pseudo))  # shards in name order
    assert all(eg.predicted.text == eg.reference.text for eg in everything)

    small = set(
        ids(create_distillation_corpus(gold, folder, max_pseudo=5, seed=3)(nlp))
    ) - {-1}
    large = set(
        ids(create_distillation_corpus(gold, folder, max_pseudo=12, seed=3)(nlp))
    ) - {-1}
    assert len(small) == 5 and len(large) == 12 and small < large

    reader = create_distillation_corpus(gold, folder, max_pseudo=12, seed=3)
    epochs = [ids(reader(nlp)) for _ in range(3)]
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(epochs[2])
    assert epochs[0] != epochs[1] != epochs[2]
    again = create_distillation_corpus(gold, folder, max_pseudo=12, seed=3)
    assert [ids(again(nlp)) for _ in range(3)] == epochs


def test_reader_upsamples_and_weights_gold(tmp_path):
    gold, folder, n_pseudo = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    examples = list(
        create_distillation_corpus(
            gold, folder, gold_upsample=3, gold_weight=2.0, pseudo_weight=0.5
        )(nlp)
    )
    golds = [eg for eg in examples if not is_pseudo(eg.reference)]
    assert len(golds) == 24 and len(examples) == 24 + n_pseudo
    assert {example_weight(eg.reference) for eg in golds} == {2.0}
    assert {
        example_weight(eg.reference) for eg in examples if is_pseudo(eg.reference)
    } == {0.5}
    only_gold = list(create_distillation_corpus(gold)(nlp))
    assert len(only_gold) == 8 and {
        example_weight(eg.reference) for eg in only_gold
    } == {1.0}


def spoil_labels(doc, i):
    if i == 5:
        doc.cats = {"misc.forsale": 1.0, **{k: 0.0 for k in LABELS[1:]}}


def spoil_range(doc, i):
    if i == 5:
        doc.cats = {**doc.cats, LABELS[0]: 1.7}


def spoil_sum(doc, i):
    if i == 5:
        doc.cats = {k: 0.4 for k in LABELS}


def drop_record(doc, i):
    if i == 5:
        del doc.user_data["spacy_kd"]


@pytest.mark.parametrize(
    "mutate,message",
    [
        (
            spoil_labels,
            r"doc 5: its cats label set differs from the gold labels .missing \['comp.graphics'\], unknown \['misc.forsale'\]",
        ),
        (spoil_range, r"doc 5: cats outside \[0, 1\]: \[1.7\]"),
        (spoil_sum, "doc 5: exclusive cats must sum to 1, they sum to 1.6"),
        (drop_record, "doc 5 has no teacher record"),
    ],
)
def test_reader_refuses_bad_pseudo_docs_naming_the_shard(tmp_path, mutate, message):
    gold, folder, _ = write_corpus(tmp_path, n_shards=1, mutate=mutate)
    with pytest.raises(DataError, match="shard-00000.spacy: " + message):
        list(create_distillation_corpus(gold, folder)(spacy.blank("en")))


def test_reader_refuses_bad_gold_and_settings(tmp_path):
    gold, folder, _ = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    with pytest.raises(
        DataError, match="is pseudo-labelled .* but this is the gold corpus"
    ):
        list(create_distillation_corpus(folder / "shard-00000.spacy")(nlp))
    soft = spacy.blank("en").make_doc("soft")
    soft.cats = {k: 0.25 for k in LABELS}
    DocBin(docs=[soft]).to_disk(tmp_path / "soft.spacy")
    with pytest.raises(
        DataError, match=r"soft.spacy: doc 0: gold cats\['comp.graphics'\] = 0.25"
    ):
        list(create_distillation_corpus(tmp_path / "soft.spacy")(nlp))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no pseudo-labelled shards"):
        create_distillation_corpus(gold, tmp_path / "empty")
    with pytest.raises(DataError, match="max_pseudo must be >= 0"):
        create_distillation_corpus(gold, folder, max_pseudo=-1)
    with pytest.raises(DataError, match="gold_upsample must be >= 1"):
        create_distillation_corpus(gold, folder, gold_upsample=0)
    (tmp_path / "junk.spacy").write_bytes(b"not a docbin")
    with pytest.raises(DataError, match="junk.spacy: not a readable DocBin"):
        list(create_distillation_corpus(tmp_path / "junk.spacy")(nlp))


def test_reader_refuses_exclusive_shards_for_multilabel_gold(tmp_path):
    gold, folder, _ = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    two = nlp.make_doc("two labels")
    two.cats = {k: float(i < 2) for i, k in enumerate(LABELS)}
    docs = list(DocBin().from_disk(gold).get_docs(nlp.vocab)) + [two]
    DocBin(docs=docs).to_disk(gold)
    with pytest.raises(
        DataError, match="annotated as exclusive but the gold docs are multi-label"
    ):
        list(create_distillation_corpus(gold, folder)(nlp))


# --- the logger -------------------------------------------------------------------


def test_logger_adds_gold_and_distill_columns(tmp_path):
    nlp = student_pipeline()
    stdout = io.StringIO()
    log_file = tmp_path / "log.jsonl"
    log_step, finalize = create_console_logger(output_file=log_file)(
        nlp, stdout, io.StringIO()
    )
    info = {
        "epoch": 1, "step": 200, "score": 0.5, "other_scores": {"cats_score": 0.5},
        "losses": {"textcat": 3.0, "textcat_gold": 1.25, "textcat_distill": 1.75},
    }  # fmt: skip
    log_step(info)
    log_step(None)
    finalize()
    lines = stdout.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("E "))
    header, _, row = lines[start : start + 3]
    assert re.split(r"\s{2,}", header.strip()) == [
        "E",
        "#",
        "LOSS TEXTCAT",
        "LOSS GOLD",
        "LOSS DISTILL",
        "CATS_SCORE",
        "SCORE",
    ]
    assert row.split() == ["1", "200", "3.00", "1.25", "1.75", "50.00", "0.50"]
    logged = json.loads(log_file.read_text().splitlines()[0])
    assert logged["losses"] == {"textcat": 3.0, "gold": 1.25, "distill": 1.75}


# --- the shipped configs, end to end ----------------------------------------------


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
sys.path.insert(0, sys.argv[1])
hidden = json.loads(sys.argv[4])
unavailable = [m for m in hidden if importlib.util.find_spec(m) is None]
import spacy
nlp = spacy.load(sys.argv[2])
texts = json.loads(sys.argv[3])
cats = [doc.cats for doc in nlp.pipe(texts)]
one = [nlp(t).cats for t in texts]
print(json.dumps({
    "cats": cats, "one": one, "unavailable": unavailable,
    "factories": [nlp.get_pipe_meta(n).factory for n in nlp.pipe_names],
    "imported": sorted(m for m in sys.modules if m.split(".")[0] in hidden),
}))
"""


def production_site(tmp_path) -> Path:
    """A site-packages of links to this venv's packages, without torch, transformers,
    spacy-transformers and spacy_kd: what a production machine with only spaCy has."""
    site = Path(spacy.__file__).resolve().parent.parent
    farm = tmp_path / "production-site"
    farm.mkdir()
    for entry in site.iterdir():
        base = re.split(r"[-.]", entry.name)[0].lower()
        if base in HIDDEN or "spacy_kd" in entry.name or entry.suffix == ".pth":
            continue
        os.symlink(entry, farm / entry.name)
    return farm


def test_student_trains_with_spacy_train_and_loads_without_spacy_kd(tmp_path):
    """configs/student_bow.cfg through plain ``python -m spacy train`` on tiny data:
    the distillation callback, reader, logger and export all run, and the saved
    pipeline loads and predicts in an interpreter where torch, transformers,
    spacy-transformers and spacy_kd cannot even be imported."""
    gold, folder, _ = write_corpus(tmp_path, n_gold=16)
    out = tmp_path / "out"
    cmd = [
        sys.executable, "-m", "spacy", "train", str(REPO / "configs" / "student_bow.cfg"),
        "--output", str(out), "--paths.train", str(gold), "--paths.dev", str(gold),
        "--paths.pseudo", str(folder), "--training.max_steps", "6",
        "--training.eval_frequency", "3", "--nlp.batch_size", "8",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"LOSS TEXTCAT\s+LOSS GOLD\s+LOSS DISTILL", result.stdout), (
        result.stdout
    )
    model = out / "model-best"
    config = (model / "config.cfg").read_text(encoding="utf-8")
    assert 'factory = "textcat"' in config and "kd_textcat" not in config

    texts = [text for text, _ in rows()[:6]]
    expected = [doc.cats for doc in spacy.load(model).pipe(texts)]
    run = subprocess.run(
        [sys.executable, "-S", "-c", PRODUCTION, str(production_site(tmp_path)), str(model),
         json.dumps(texts), json.dumps(list(HIDDEN))],
        capture_output=True, text=True, cwd=str(tmp_path),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["unavailable"] == list(HIDDEN)
    assert got["imported"] == []
    assert got["factories"] == ["textcat"]
    for a, b, c in zip(got["cats"], got["one"], expected):
        assert a == pytest.approx(c, rel=1e-5) and b == pytest.approx(c, rel=1e-5)
