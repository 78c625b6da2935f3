"""Helpers shared by the tests (importable: pytest puts tests/ on sys.path)."""

import json
import random
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import minibatch


def train_bow_textcat(
    make_examples: Callable[[Language], Iterable[Example]],
    out: Path,
    *,
    multi_label: bool = False,
    ngram_size: int = 1,
    length: Optional[int] = None,
    epochs: int = 6,
    batch_size: Optional[int] = None,
    name: Optional[str] = None,
    seed: int = 0,
) -> Path:
    """A small real classifier: spaCy's stock BOW textcat (or textcat_multilabel)
    trained for ``epochs`` passes over ``make_examples(nlp)``, in minibatches of
    ``batch_size`` shuffled each pass (None: one full-batch update per pass), saved
    to ``out``."""
    spacy.util.fix_random_seed(seed)
    nlp = spacy.blank("en")
    factory = "textcat_multilabel" if multi_label else "textcat"
    model = {
        "@architectures": "spacy.TextCatBOW.v3",
        "exclusive_classes": not multi_label,
        "ngram_size": ngram_size,
        "no_output_layer": False,
    }
    if length is not None:
        model["length"] = length
    nlp.add_pipe(factory, name=name or factory, config={"model": model})
    examples = list(make_examples(nlp))
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(seed)
    for _ in range(epochs):
        if batch_size is None:
            nlp.update(examples, sgd=optimizer)
            continue
        rng.shuffle(examples)
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, sgd=optimizer)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)
    return Path(out)


def write_multilabel(src: Path, dst: Path) -> Path:
    """A 20 Newsgroups JSONL fixture relabelled multi-label: each doc's newsgroup
    plus its top-level group (comp.graphics + comp)."""
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    with dst.open("w", encoding="utf-8") as f:
        for row in rows:
            labels = [row["label"], row["label"].split(".")[0]]
            f.write(json.dumps({"text": row["text"], "labels": labels}) + "\n")
    return dst


def snapshot(folder: Path) -> Dict[str, bytes]:
    """Every file under ``folder`` (hidden and temporary ones too) with its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused(result, path, problem: str) -> None:
    """A clean CLI refusal: exit 1, one ``✘ PATH: ...`` line naming the file."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"✘ {path}: " in result.output and problem in result.output, result.output
