"""Teacher weights fitted on labelled dev data: the mix with the least log-loss."""

import itertools
from pathlib import Path
from typing import List, Sequence, Union

import numpy

from spacy_kd.annotate.teachers import Teacher, run_teacher
from spacy_kd.data.labelled import read_labelled
from spacy_kd.errors import DataError
from spacy_kd.util import EPS


def fit_weights(
    teachers: List[Teacher],
    dev_path: Union[str, Path],
    labels: List[str],
    *,
    batch_size: int = 64,
    steps: int = 20,
) -> List[float]:
    """Weights that minimise the combined teachers' log-loss on labelled dev data.

    A grid over the simplex with ``steps`` divisions (2 or 3 teachers), else
    coordinate descent on the same grid. Returns weights summing to 1.
    """
    dev_path = Path(dev_path)
    labelled = read_labelled(dev_path, "fitting teacher weights")
    dev = list(zip(labelled.texts, labelled.cats))
    if not dev:
        raise DataError(dev_path, "no labelled docs to fit teacher weights on")
    unknown = {k for _, cats in dev for k in cats} - set(labels)
    if unknown:
        raise DataError(
            dev_path, f"labels not known to the teachers: {sorted(unknown)}"
        )
    gold = numpy.asarray(
        [[cats.get(label, 0.0) for label in labels] for _, cats in dev]
    )
    texts = [text for text, _ in dev]
    probs = [run_teacher(t, texts, labels, batch_size, 1)[0] for t in teachers]
    multi = teachers[0].multi_label

    def loss(w: Sequence[float]) -> float:
        p = sum(wi * pi for wi, pi in zip(w, probs))
        p = numpy.clip(p, EPS, 1 - EPS)
        if multi:
            return float(-(gold * numpy.log(p) + (1 - gold) * numpy.log(1 - p)).mean())
        return float(-(gold * numpy.log(p)).sum(axis=1).mean())

    k = len(teachers)
    if k == 1:
        return [1.0]
    if k <= 3:
        grid = [
            [c / steps for c in combo] + [(steps - sum(combo)) / steps]
            for combo in itertools.product(range(steps + 1), repeat=k - 1)
            if sum(combo) <= steps
        ]
        return min(grid, key=loss)
    w = [1.0 / k] * k
    for _ in range(3):
        for j in range(k):
            candidates = []
            for c in range(steps + 1):
                trial = list(w)
                trial[j] = c / steps
                total = sum(trial)
                if total > 0:
                    candidates.append([x / total for x in trial])
            w = min(candidates, key=loss)
    return w
