"""``spacy-kd.DistillationCorpus.v1``: gold docs mixed with pseudo-labelled shards.

Reads a gold DocBin and the DocBin shards ``annotate`` wrote (a folder of
``.spacy`` files, read in name order, or one file), checks them against each other
before training starts, caps the number of pseudo-labelled docs, can up-sample or
up-weight the gold docs, and shuffles every epoch with a seed.
"""

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from spacy_kd.annotate.pseudo import (
    AnnotationError,
    check_pseudo_doc,
    is_pseudo,
    select_teachers,
    set_example_weight,
)
from spacy_kd.data.docbin import read_docbin
from spacy_kd.data.labels import LabelSchema
from spacy_kd.errors import DataError

PathLike = Union[str, Path]
READER = "spacy-kd.DistillationCorpus.v1"
# ``doc.user_data`` key of where a reference doc was read ("gold.spacy doc 3"), so
# that the student's errors can point at the file and the doc
SOURCE_KEY = "spacy_kd_source"


def pseudo_files(path: PathLike) -> List[Path]:
    """The ``.spacy`` shards of ``path`` (a folder, read in name order, or one file)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir() if p.suffix == ".spacy" and p.is_file()
        )
        if not files:
            raise DataError(path, "no pseudo-labelled shards (*.spacy) in this folder")
        return files
    if not path.exists():
        raise DataError(path, "pseudo-labelled data not found")
    if path.suffix != ".spacy":
        raise DataError(
            path, "pseudo-labelled data must be a .spacy file or a folder of them"
        )
    return [path]


def create_distillation_corpus(
    gold: Path,
    pseudo: Optional[Path] = None,
    max_pseudo: int = 0,
    gold_upsample: int = 1,
    gold_weight: float = 1.0,
    pseudo_weight: float = 1.0,
    labels: Optional[Path] = None,
    shuffle: bool = True,
    seed: int = 0,
    teachers: Optional[List[str]] = None,
    hard: bool = False,
    threshold: float = 0.5,
    cache: bool = True,
) -> Callable[[Language], Iterator[Example]]:
    """Training examples from gold docs and pseudo-labelled docs.

    gold: a DocBin of gold-labelled docs (0/1 cats).
    pseudo: a folder of pseudo-labelled DocBin shards, or one DocBin; None for
        gold only (the baseline).
    max_pseudo: use at most this many pseudo-labelled docs (0: all). The docs
        kept are the first of a seeded permutation, so smaller caps are subsets
        of larger ones.
    gold_upsample: repeat every gold doc this many times per epoch.
    gold_weight, pseudo_weight: per-example loss weights.
    labels: a labels.json to hold the gold labels to (default: the labels of the
        gold docs).
    shuffle, seed: shuffle the examples on every call (epoch), seeded by
        ``seed`` and the call's number.
    teachers: learn from these teachers of the shards' records only (None: the
        combination ``annotate`` wrote). One ``annotate`` run with an ELMo and a
        BERT teacher thus serves the ELMo, the BERT and the ensemble student.
    hard, threshold: 0/1 targets (argmax, or ``>= threshold`` for multi-label)
        from the selected teachers' combination, as ``annotate --hard`` writes.

    cache: keep each example once built (tokenized) and give the same objects on
        later calls, in that call's shuffled order. spaCy's initialize calls the
        reader several times (labels, checks, TF-IDF fit, a sample), and with
        ``max_epochs >= 0`` the training loop keeps one call's examples in memory
        anyway, so this costs no memory there and saves tokenizing the corpus
        again on each call. False: the gold file is re-read and every doc
        re-tokenized on every call, for ``max_epochs = -1`` over a corpus that
        should not be held in memory.

    Everything is checked on the first call, which ``spacy train`` makes while
    initializing, so bad data stops training before the first update.
    """
    if max_pseudo < 0:
        raise DataError(
            READER, f"max_pseudo must be >= 0 (0 for all), got {max_pseudo}"
        )
    if gold_upsample < 1:
        raise DataError(READER, f"gold_upsample must be >= 1, got {gold_upsample}")
    for what, w in (("gold_weight", gold_weight), ("pseudo_weight", pseudo_weight)):
        if not w > 0:
            raise DataError(READER, f"{what} must be > 0, got {w}")
    gold = Path(gold)
    shards = pseudo_files(pseudo) if pseudo is not None else []
    schema = LabelSchema.from_disk(labels) if labels is not None else None
    calls = 0
    # the pseudo-labelled docs, read and checked once and kept as (text, cats,
    # user_data): re-reading the shards on each call cost more than an epoch's
    # updates on long docs
    kept: Optional[List[Tuple[str, Dict[str, float], Dict[Any, Any]]]] = None
    key = (
        _file_key(gold), tuple(_file_key(p) for p in shards), max_pseudo,
        gold_upsample, gold_weight, pseudo_weight, str(labels), seed,
        tuple(teachers) if teachers is not None else None, hard, threshold,
    )  # fmt: skip

    def read(nlp: Language) -> Iterator[Example]:
        nonlocal calls, kept
        calls += 1
        state = _SHARED.get(key) if cache else None
        if state is None or state.nlp is not nlp:
            gold_docs = _read(gold, nlp)
            label_set, multi_label = _gold_labels(gold, gold_docs, schema)
            if gold_weight != 1.0:
                for doc in gold_docs:
                    set_example_weight(doc, gold_weight)
            if kept is None:
                kept = _pseudo_entries(
                    shards, nlp, label_set, multi_label, max_pseudo, seed,
                    teachers=teachers, hard=hard, threshold=threshold,
                )  # fmt: skip
            state = _Built(nlp, gold_docs, kept)
            if cache:
                _SHARED.clear()  # one corpus at a time: the last one asked for
                _SHARED[key] = state
        references = [(True, i) for i in range(len(state.gold_docs))
                      for _ in range(gold_upsample)]  # fmt: skip
        references.extend((False, i) for i in range(len(state.kept)))
        if shuffle:
            random.Random(f"{seed}:{calls}").shuffle(references)
        for ref in references:
            example = state.examples.get(ref)
            if example is None:
                example = _example(nlp, ref, state, pseudo_weight)
                if cache:
                    state.examples[ref] = example
            yield example

    return read


@dataclass
class _Built:
    """A corpus's docs for one pipeline, and (with ``cache``) each example once
    built, by (is gold, index)."""

    nlp: Language
    gold_docs: List[Doc]
    kept: List[Tuple[str, Dict[str, float], Dict[Any, Any]]]
    examples: Dict[Tuple[bool, int], Example] = field(default_factory=dict)


# The built corpus, shared by the readers made from the same arguments (and files)
# for the same pipeline: spaCy resolves [corpora] once to initialize and again to
# train, and each reader would otherwise read and tokenize everything again.
_SHARED: Dict[Any, _Built] = {}


def _file_key(path: Path) -> Tuple[str, int, int]:
    try:
        stat = Path(path).stat()
    except OSError:
        return (str(path), -1, -1)  # _read names the missing file
    return (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def _example(
    nlp: Language, ref: Tuple[bool, int], state: _Built, pseudo_weight: float
) -> Example:
    """The training example of a gold doc or of a kept pseudo-labelled entry."""
    is_gold, i = ref
    if is_gold:
        return Example(nlp.make_doc(state.gold_docs[i].text), state.gold_docs[i])
    text, cats, user_data = state.kept[i]
    predicted = nlp.make_doc(text)
    doc = predicted.copy()  # the reference: same tokens, the teacher's cats
    doc.cats = dict(cats)
    doc.user_data.update(user_data)
    if pseudo_weight != 1.0:
        set_example_weight(doc, pseudo_weight)
    return Example(predicted, doc)


def _pseudo_entries(
    shards: Sequence[Path],
    nlp: Language,
    label_set: List[str],
    multi_label: bool,
    max_pseudo: int,
    seed: int,
    *,
    teachers: Optional[List[str]],
    hard: bool,
    threshold: float,
) -> List[Tuple[str, Dict[str, float], Dict[Any, Any]]]:
    """The shards' docs, checked, re-marked for ``teachers`` / ``hard``, capped at
    ``max_pseudo`` (the first of a seeded permutation, kept in shard order), as
    (text, cats, user_data)."""
    pseudo_docs: List[Doc] = []
    for shard in shards:
        docs = _read(shard, nlp)
        _check_pseudo(shard, docs, label_set, multi_label)
        if teachers is not None or hard:
            for i, doc in enumerate(docs):
                try:
                    select_teachers(doc, teachers, hard=hard, threshold=threshold)
                except AnnotationError as e:
                    raise DataError(shard, f"doc {i}: {e}") from None
        pseudo_docs.extend(docs)
    chosen = list(range(len(pseudo_docs)))
    if max_pseudo and max_pseudo < len(pseudo_docs):
        random.Random(seed).shuffle(chosen)
        chosen = sorted(chosen[:max_pseudo])
    return [
        (pseudo_docs[i].text, dict(pseudo_docs[i].cats), dict(pseudo_docs[i].user_data))
        for i in chosen
    ]


def _read(path: Path, nlp: Language) -> List[Doc]:
    docs = read_docbin(path, vocab=nlp.vocab)
    for i, doc in enumerate(docs):
        doc.user_data[SOURCE_KEY] = f"{path} doc {i}"  # for error messages only
    return docs


def _gold_labels(
    path: Path, docs: Sequence[Doc], schema: Optional[LabelSchema]
) -> Tuple[List[str], bool]:
    """The gold label set and whether it is multi-label, checking every gold doc."""
    if not docs:
        raise DataError(path, "the gold corpus is empty")
    seen: List[str] = []
    multi_label = False
    for i, doc in enumerate(docs):
        if is_pseudo(doc):
            raise DataError(
                path,
                f"doc {i} is pseudo-labelled (it has a teacher record) but this is "
                "the gold corpus; pass pseudo-labelled shards as `pseudo`"
            )  # fmt: skip
        if not doc.cats:
            raise DataError(path, f"doc {i} has no labels; gold docs need cats")
        for label, value in doc.cats.items():
            if value not in (0.0, 1.0):
                raise DataError(
                    path, f"doc {i}: gold cats['{label}'] = {value}, not 0 or 1"
                )
            if label not in seen:
                seen.append(label)
        if sum(doc.cats.values()) > 1.0:
            multi_label = True
    if schema is not None:
        unknown = sorted(set(seen) - set(schema.labels))
        if unknown:
            raise DataError(path, f"labels {unknown[:5]} are not in the label file")
        if schema.multi_label is False and multi_label:
            raise DataError(
                path, "docs with several labels, but the label file says exclusive"
            )
        return list(schema.labels), bool(schema.multi_label) or multi_label
    return seen, multi_label


def _check_pseudo(
    path: Path, docs: Sequence[Doc], labels: List[str], multi_label: bool
) -> None:
    """Every shard doc must be pseudo-labelled, over the gold labels, with valid values.

    The exclusive / multi-label kind is the record's when it disagrees with what the
    gold docs show only in the direction gold cannot tell (gold docs that happen to
    have one label each may still be multi-label data).
    """
    for i, doc in enumerate(docs):
        if not is_pseudo(doc):
            raise DataError(
                path, f"doc {i} has no teacher record (doc.user_data['spacy_kd']); "
                "pseudo-labelled shards come from `python -m spacy_kd annotate`"
            )  # fmt: skip
        record_multi = bool(doc.user_data["spacy_kd"].get("multi_label", multi_label))
        if multi_label and not record_multi:
            raise DataError(
                path,
                f"doc {i} was annotated as exclusive but the gold docs are multi-label",
            )
        problem = check_pseudo_doc(doc, labels, record_multi)
        if problem is not None:
            raise DataError(path, f"doc {i}: {problem}")
