"""A training folder as the project leaves it, from two tiny trained classifiers:
what the ``report`` tests evaluate."""

import json
import shutil
from pathlib import Path
from typing import Optional, Tuple

from conftest import DATA_DIR
from helpers import train_bow_textcat

from spacy_kd.data.readers import create_textcat_corpus_reader

TRAIN = DATA_DIR / "20ng_train.jsonl"
TEST = DATA_DIR / "20ng_test.jsonl"


def train_pair(work: Path) -> Tuple[Path, Path]:
    """A strong (6 epochs) and a weak (1 epoch) stock BOW textcat on 20ng."""

    def train(out: Path, epochs: int) -> Path:
        return train_bow_textcat(
            create_textcat_corpus_reader(TRAIN), out, length=2**14, epochs=epochs,
            batch_size=16,
        )  # fmt: skip

    return train(work / "strong", 6), train(work / "weak", 1)


def place(model: Path, dst: Path, dev_macro_f: Optional[float] = None) -> Path:
    """Copy ``model`` to ``dst``, with ``dev_macro_f`` as its recorded dev score."""
    shutil.copytree(model, dst)
    if dev_macro_f is not None:
        meta = json.loads((dst / "meta.json").read_text())
        meta["performance"] = {"cats_macro_f": dev_macro_f}
        (dst / "meta.json").write_text(json.dumps(meta))
    return dst


def make_training(strong: Path, weak: Path, out: Path) -> Path:
    """A profile folder; the teachers' names are not the project's, and the student
    best on dev (student_one) is the one worse on test."""
    place(strong, out / "stock" / "model-best")
    place(strong, out / "teacher_zeta" / "model-best")
    place(weak, out / "teacher_alpha" / "model-best")
    (out / "teacher_untrained").mkdir()  # no model-best: not a model
    path = place(weak, out / "students" / "baseline_x" / "model-best")
    students = [
        {"name": "baseline_x", "role": "baseline", "arch": "x", "path": str(path)}
    ]
    for name, model, dev in (("student_one", weak, 0.9), ("student_two", strong, 0.1)):
        path = place(model, out / "students" / name / "model-best", dev_macro_f=dev)
        students.append(
            {
                "name": name,
                "role": "student",
                "arch": "x",
                "baseline": "baseline_x",
                "path": str(path),
            }  # fmt: skip
        )
    (out / "students" / "students.json").write_text(json.dumps(students))
    return out
