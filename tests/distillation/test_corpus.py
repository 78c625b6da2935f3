"""The ``spacy-kd.DistillationCorpus.v1`` reader: gold plus pseudo-labelled shards."""

import pytest
import spacy
from pseudo_corpus import LABELS, write_corpus
from spacy.tokens import DocBin

from spacy_kd.annotate.pseudo import example_weight, is_pseudo
from spacy_kd.distillation import corpus as corpus_module
from spacy_kd.distillation.corpus import create_distillation_corpus
from spacy_kd.errors import DataError


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


def test_reader_reads_the_shards_once_and_rebuilds_the_same_examples(tmp_path):
    # spaCy calls the reader several times while initializing and once per epoch;
    # the shards are read on the first call only, and every call gives the same
    # texts, teacher cats and records, in an order that changes with the call
    gold, folder, n_pseudo = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    reader = create_distillation_corpus(gold, folder, max_pseudo=12, seed=3)
    first = list(reader(nlp))
    for shard in folder.glob("*.spacy"):
        shard.unlink()  # the next calls must not need them
    second = list(reader(nlp))
    assert ids(first) != ids(second)

    def content(examples):
        return sorted(
            (
                eg.reference.text,
                sorted(eg.reference.cats.items()),
                str(eg.reference.user_data.get("spacy_kd")),
                eg.predicted.text,
                [t.text for t in eg.predicted],
            )
            for eg in examples
        )

    assert content(first) == content(second)
    pseudo = [eg for eg in second if is_pseudo(eg.reference)]
    assert len(pseudo) == 12
    for eg in pseudo:
        # a fresh predicted doc: tokens, no cats, no teacher record
        assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
        assert not eg.predicted.cats and not is_pseudo(eg.predicted)
        assert "shard-0000" in eg.reference.user_data["spacy_kd_source"]
    with pytest.raises(DataError, match="pseudo-labelled data not found|no pseudo"):
        create_distillation_corpus(gold, folder)  # a new reader does read them


def test_reader_builds_each_example_once_for_all_readers_of_its_arguments(
    tmp_path, monkeypatch
):
    """spaCy resolves [corpora] once to initialize and again to train, and calls
    each reader several times: with ``cache`` (the default), the files are read
    and each example tokenized once for all those calls, the objects reused in each
    call's own shuffled order; ``cache = false`` builds everything on every call,
    the same examples in the same orders."""
    gold, folder, n_pseudo = write_corpus(tmp_path)
    nlp = spacy.blank("en")
    reads = []
    real_read = corpus_module._read
    monkeypatch.setattr(
        corpus_module,
        "_read",
        lambda path, nlp: reads.append(path) or real_read(path, nlp),
    )
    made = []
    real_example = corpus_module._example
    monkeypatch.setattr(
        corpus_module, "_example", lambda *a: made.append(a[1]) or real_example(*a)
    )
    settings = dict(max_pseudo=12, seed=3, gold_upsample=2)
    first = create_distillation_corpus(gold, folder, **settings)
    calls = [list(first(nlp)), list(first(nlp))]
    second = create_distillation_corpus(gold, folder, **settings)  # as spacy train
    calls.append(list(second(nlp)))
    assert len(reads) == 1 + len(list(folder.glob("*.spacy")))  # gold and shards once
    assert len(made) == len(set(made)) == 8 + 12  # each example built once
    assert {id(eg) for eg in calls[0]} == {id(eg) for eg in calls[1]}
    assert {id(eg) for eg in calls[1]} == {id(eg) for eg in calls[2]}
    assert ids(calls[0]) != ids(calls[1]) and ids(calls[2]) == ids(calls[0])
    # another pipeline: built again for it
    other = spacy.blank("en")
    assert not {id(eg) for eg in second(other)} & {id(eg) for eg in calls[0]}
    # without the cache: every call reads and builds, with the same outcome
    reads.clear()
    made.clear()
    plain = create_distillation_corpus(gold, folder, cache=False, **settings)
    again = [list(plain(nlp)), list(plain(nlp))]
    assert len(reads) == 2 + len(list(folder.glob("*.spacy")))  # gold on each call
    assert len(made) == 2 * (2 * 8 + 12)  # each gold doc twice (upsampled), per call
    assert not {id(eg) for eg in again[0]} & {id(eg) for eg in again[1]}
    assert [ids(x) for x in again] == [ids(x) for x in calls[:2]]
    assert [[(eg.reference.text, eg.reference.cats) for eg in x] for x in again] == [
        [(eg.reference.text, eg.reference.cats) for eg in x] for x in calls[:2]
    ]


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
            r"doc 5: its cats label set differs from the gold labels "
            r".missing \['comp.graphics'\], unknown \['misc.forsale'\]",
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
