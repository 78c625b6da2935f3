"""Seeded, stratified split of a labelled corpus into labelled budget, dev and pool."""

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Hashable, List, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc

from spacy_kd.data.docbin import ID_KEY, docbin_bytes, read_docbin
from spacy_kd.data.labels import rare_class_warnings
from spacy_kd.errors import DataError
from spacy_kd.util import check_default_output, check_outputs, write_bytes_atomic

SPLIT_NAMES = ("labelled", "dev", "pool", "pool_gold")


@dataclass
class SplitSummary:
    output_dir: str
    seed: int
    counts: Dict[str, int]
    label_counts: Dict[str, Dict[str, int]]
    # classes the labelled budget lacks (rare_class_warnings): said loudly, not fatal
    warnings: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict:
        return dict(self.__dict__)


def stratum(doc: Doc) -> Hashable:
    """The stratum of a labelled doc: its set of positive labels (argmax if none)."""
    positive = tuple(sorted(k for k, v in doc.cats.items() if v >= 0.5))
    if positive:
        return positive
    if doc.cats:
        return (max(doc.cats, key=doc.cats.__getitem__),)
    return ()


def allocate(sizes: Dict[Hashable, int], n: int) -> Dict[Hashable, int]:
    """Share ``n`` over strata in proportion to their sizes (largest remainder)."""
    total = sum(sizes.values())
    if n > total:
        raise ValueError(f"asked for {n} items from {total}")
    exact = {k: n * s / total for k, s in sizes.items()}
    alloc = {k: int(v) for k, v in exact.items()}
    rest = n - sum(alloc.values())
    by_remainder = sorted(sizes, key=lambda k: (-(exact[k] - alloc[k]), str(k)))
    for k in by_remainder[:rest]:
        alloc[k] += 1
    return alloc


def stratified_indices(
    keys: Sequence[Hashable], sizes: Sequence[int], seed: int
) -> List[List[int]]:
    """Split positions 0..len(keys) into consecutive parts of given sizes, stratified.

    The remainder (after ``sum(sizes)``) is returned as a last part.
    """
    rng = random.Random(seed)
    groups: Dict[Hashable, List[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[key].append(i)
    for key in sorted(groups, key=str):
        rng.shuffle(groups[key])
    parts: List[List[int]] = []
    for size in sizes:
        alloc = allocate({k: len(v) for k, v in groups.items()}, size)
        part: List[int] = []
        for key in sorted(groups, key=str):
            take = alloc.get(key, 0)
            part.extend(groups[key][:take])
            groups[key] = groups[key][take:]
        rng.shuffle(part)
        parts.append(part)
    rest = [i for key in sorted(groups, key=str) for i in groups[key]]
    rng.shuffle(rest)
    parts.append(rest)
    return parts


def split_corpus(
    input_path: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    n_labelled: int,
    n_dev: int,
    n_pool: Optional[int] = None,
    seed: int = 0,
    overwrite: bool = False,
    extra_outputs: Sequence[Optional[Union[str, Path]]] = (),
) -> SplitSummary:
    """Write labelled.spacy, dev.spacy, pool.spacy (labels removed) and pool_gold.spacy.

    pool_gold.spacy holds the pool's docs with their removed labels, in the same
    order, so pseudo-labels can be scored later. Every doc gets an id in
    ``doc.user_data["spacy_kd_id"]`` (its position in the input).
    overwrite: replace split files in ``output_dir`` that differ from this split
    (without it they are an error). extra_outputs: files the caller will write
    afterwards (a summary), checked with the others. Nothing is written unless every
    output can be.
    """
    output_dir = Path(output_dir)
    paths = {name: output_dir / f"{name}.spacy" for name in SPLIT_NAMES}
    check_outputs([input_path], [*paths.values(), *extra_outputs], folders=[output_dir])
    docs = read_docbin(input_path)
    if not docs:
        raise DataError(input_path, "the corpus is empty")
    for i, doc in enumerate(docs):
        if not doc.cats:
            raise DataError(
                input_path, f"doc {i} has no labels; split needs a labelled corpus"
            )
    if n_labelled < 1 or n_dev < 0:
        raise DataError(input_path, "--n-labelled must be >= 1 and --n-dev >= 0")
    if n_labelled + n_dev >= len(docs):
        raise DataError(
            input_path,
            f"the corpus has {len(docs)} docs: too few for {n_labelled} labelled + "
            f"{n_dev} dev + a non-empty pool",
        )
    keys = [stratum(doc) for doc in docs]
    labelled_idx, dev_idx, pool_idx = stratified_indices(
        keys, [n_labelled, n_dev], seed
    )
    if n_pool is not None and n_pool < 0:
        raise DataError(
            input_path, f"--n-pool must be >= 0 (0: the whole pool), got {n_pool}"
        )
    if n_pool:  # None or 0: the whole pool
        pool_idx = pool_idx[:n_pool]
    for i, doc in enumerate(docs):
        doc.user_data[ID_KEY] = i
    parts: Dict[str, Tuple[List[int], bool]] = {
        "labelled": (labelled_idx, True),
        "dev": (dev_idx, True),
        "pool_gold": (pool_idx, True),
        "pool": (pool_idx, False),
    }
    counts, label_counts, data = {}, {}, {}
    for name, (idx, keep_cats) in parts.items():
        chosen = [docs[i] for i in idx]
        if not keep_cats:
            chosen = [_unlabelled_copy(doc) for doc in chosen]
        data[name], counts[name] = docbin_bytes(chosen)
        if keep_cats:
            label_counts[name] = dict(
                sorted(
                    Counter(
                        k for d in chosen for k, v in d.cats.items() if v >= 0.5
                    ).items()
                )
            )
    # every file is checked before any is written: a refused split writes nothing
    changed = [n for n in parts if check_default_output(paths[n], data[n], overwrite)]
    for name in changed:
        write_bytes_atomic(paths[name], data[name])
    warnings = rare_class_warnings(
        {
            name: [docs[i].cats for i in idx]
            for name, idx in (
                ("labelled", labelled_idx),
                ("dev", dev_idx),
                ("pool", pool_idx),
            )
        }
    )
    return SplitSummary(
        output_dir=str(output_dir),
        seed=seed,
        counts=counts,
        label_counts=label_counts,
        warnings=warnings,
    )


def _unlabelled_copy(doc: Doc) -> Doc:
    copy = doc.copy()
    copy.cats = {}
    copy.user_data[ID_KEY] = doc.user_data[ID_KEY]
    return copy
