"""Choose the compact student architecture by measurement: accuracy and speed.

Trains each candidate textcat on the labelled budget (gold only) with plain
``python -m spacy train``, one run at a time, then reports test macro-F1 and
single-thread docs/s on 1,000 test docs (best of several passes, with the
tokenizer-only speed as a reference measured in the same process).

Usage:
    python benchmarks/compare_architectures.py train NAME [NAME ...] [--out arch_runs]
    python benchmarks/compare_architectures.py evaluate NAME [NAME ...] [--out arch_runs]
    python benchmarks/compare_architectures.py speed NAME [NAME ...] [--out arch_runs]
    python benchmarks/compare_architectures.py table [--out arch_runs]
    python benchmarks/compare_architectures.py list

The data default to the project's layout (`training/benchmark/split/labelled.spacy`,
`.../dev.spacy`, `corpus/test.spacy`); --train, --dev and --test take others.

Set OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1 for the speed pass.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy

TRAIN = "training/benchmark/split/labelled.spacy"
DEV = "training/benchmark/split/dev.spacy"
TEST = "corpus/test.spacy"

BOW_LAYER = """
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
length = 262144
ngram_size = {ngram}
no_output_layer = false
"""

# spaCy's CNN tok2vec: hash embeddings, then `depth` maxout window layers
TOK2VEC_LAYER = """
[components.textcat.model.tok2vec]
@architectures = "spacy.Tok2Vec.v2"

[components.textcat.model.tok2vec.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = {attrs}
rows = {rows}
include_static_vectors = false

[components.textcat.model.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {width}
window_size = 1
maxout_pieces = 3
depth = {depth}
"""

BOW = "[components.textcat.model]" + BOW_LAYER

REDUCE = (
    """
[components.textcat.model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = {use_max}
use_reduce_mean = true
"""
    + TOK2VEC_LAYER
)

EMBED_ONLY = """
[components.textcat.model]
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true

[components.textcat.model.tok2vec]
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = {attrs}
rows = {rows}
include_static_vectors = false
"""

ENSEMBLE = (
    """
[components.textcat.model]
@architectures = "spacy.TextCatEnsemble.v2"
nO = null

[components.textcat.model.linear_model]"""
    + BOW_LAYER
    + TOK2VEC_LAYER
)

ATTRS4 = '["NORM", "PREFIX", "SUFFIX", "SHAPE"]'
ROWS4 = "[5000, 1000, 2500, 2500]"

# name -> (factory, model block, description)
CANDIDATES: Dict[str, tuple] = {
    "bow1_stock": (
        "textcat",
        BOW.format(ngram=1),
        "TextCatBOW unigrams, stock textcat (squared error)",
    ),
    "bow1_ce": (
        "kd_textcat",
        BOW.format(ngram=1),
        "TextCatBOW unigrams, cross-entropy",
    ),
    "bow2_ce": (
        "kd_textcat",
        BOW.format(ngram=2),
        "TextCatBOW uni+bigrams, cross-entropy",
    ),
    "cnn96d2": (
        "kd_textcat",
        REDUCE.format(width=96, depth=2, use_max="false", attrs=ATTRS4, rows=ROWS4),
        "CNN: MultiHashEmbed+MaxoutWindow w96 d2, mean (the default CNN), CE",
    ),
    "cnn64d1": (
        "kd_textcat",
        REDUCE.format(width=64, depth=1, use_max="false", attrs=ATTRS4, rows=ROWS4),
        "CNN w64 d1, mean, CE",
    ),
    "cnn32d1": (
        "kd_textcat",
        REDUCE.format(width=32, depth=1, use_max="false", attrs=ATTRS4, rows=ROWS4),
        "CNN w32 d1, mean, CE",
    ),
    "cnn64d1_max": (
        "kd_textcat",
        REDUCE.format(width=64, depth=1, use_max="true", attrs=ATTRS4, rows=ROWS4),
        "CNN w64 d1, mean+max, CE",
    ),
    "emb64_max": (
        "kd_textcat",
        EMBED_ONLY.format(width=64, attrs=ATTRS4, rows=ROWS4),
        "hash embeddings w64 (no window layer), mean+max, CE",
    ),
    "ens_bow1_cnn32d1": (
        "kd_textcat",
        ENSEMBLE.format(ngram=1, width=32, depth=1, attrs=ATTRS4, rows=ROWS4),
        "TextCatEnsemble: BOW unigrams + CNN w32 d1, CE",
    ),
    "ens_bow2_cnn64d1": (
        "kd_textcat",
        ENSEMBLE.format(ngram=2, width=64, depth=1, attrs=ATTRS4, rows=ROWS4),
        "TextCatEnsemble: BOW uni+bigrams + CNN w64 d1, CE",
    ),
}

BASE = """
[paths]
train = null
dev = null

[system]
seed = 0
gpu_allocator = null

[nlp]
lang = "en"
pipeline = ["textcat"]
batch_size = 256

[components]

[components.textcat]
factory = "{factory}"
{extra}
{model}

[corpora]

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${{paths.train}}

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${{paths.dev}}

[training]
seed = ${{system.seed}}
dropout = 0.1
patience = 800
max_epochs = 0
max_steps = {max_steps}
eval_frequency = 100
accumulate_gradient = 1
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"

[training.batcher]
@batchers = "spacy.batch_by_sequence.v1"
size = 32
get_length = null

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = {learn_rate}
L2 = 0.01
L2_is_weight_decay = true
grad_clip = 1.0
use_averages = true

[training.score_weights]
cats_macro_f = 1.0

[initialize]
"""


def config_text(name: str, max_steps: int, learn_rate: float) -> str:
    factory, model, _ = CANDIDATES[name]
    extra = 'alpha = 1.0\nloss = "cross_entropy"' if factory == "kd_textcat" else ""
    return BASE.format(
        factory=factory,
        model=model,
        extra=extra,
        max_steps=max_steps,
        learn_rate=learn_rate,
    )


def train(
    names: List[str],
    out: Path,
    max_steps: int,
    learn_rate: float,
    train_path: str,
    dev_path: str,
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        cfg = out / f"{name}.cfg"
        cfg.write_text(config_text(name, max_steps, learn_rate), encoding="utf-8")
        fill = [
            sys.executable,
            "-m",
            "spacy",
            "init",
            "fill-config",
            str(cfg),
            str(cfg),
        ]
        subprocess.run(fill, check=True, capture_output=True)
        log = out / f"{name}.train.log"
        cmd = [
            sys.executable,
            "-m",
            "spacy",
            "train",
            str(cfg),
            "-o",
            str(out / name),
            "--paths.train",
            train_path,
            "--paths.dev",
            dev_path,
        ]
        start = time.time()
        with open(log, "w", encoding="utf-8") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        (out / f"{name}.train.json").write_text(
            json.dumps({"rc": rc, "train_seconds": time.time() - start}),
            encoding="utf-8",
        )
        print(f"{name}: rc={rc} in {time.time() - start:.0f}s", flush=True)


def macro_f1(gold: numpy.ndarray, pred: numpy.ndarray, n: int) -> float:
    f1s = []
    for k in range(n):
        tp = float(((pred == k) & (gold == k)).sum())
        fp = float(((pred == k) & (gold != k)).sum())
        fn = float(((pred != k) & (gold == k)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(numpy.mean(f1s))


def evaluate(names: List[str], out: Path, test_path: str) -> None:
    import spacy
    from spacy.tokens import DocBin

    for name in names:
        nlp = spacy.load(out / name / "model-best")
        docs = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
        labels = list(nlp.get_pipe("textcat").labels)
        gold = numpy.array([labels.index(max(d.cats, key=d.cats.get)) for d in docs])
        start = time.time()
        preds = [d.cats for d in nlp.pipe((d.text for d in docs), batch_size=256)]
        seconds = time.time() - start
        pred = numpy.array([labels.index(max(c, key=c.get)) for c in preds])
        result = {
            "name": name,
            "test_macro_f1": macro_f1(gold, pred, len(labels)),
            "test_accuracy": float((gold == pred).mean()),
            "n_test": len(docs),
            "eval_seconds": seconds,
            "pipeline_factory": nlp.get_pipe_meta("textcat").factory,
        }
        (out / f"{name}.eval.json").write_text(
            json.dumps(result, indent=2), encoding="utf-8"
        )
        print(json.dumps(result), flush=True)


def speed(
    names: List[str],
    out: Path,
    n_docs: int,
    repeats: int,
    test_path: str,
    train_path: str,
) -> None:
    import spacy
    from spacy.tokens import DocBin

    blank = spacy.blank("en")
    texts = [d.text for d in DocBin().from_disk(test_path).get_docs(blank.vocab)][
        :n_docs
    ]
    pipelines = {name: _load_or_init(name, out, train_path) for name in names}
    best: Dict[str, float] = {}
    # Interleave the passes so that a busy moment on the machine hits every model.
    for _ in range(repeats):
        start = time.perf_counter()
        for _doc in blank.pipe(texts, batch_size=256):
            pass
        best["tokenizer"] = max(
            best.get("tokenizer", 0.0), len(texts) / (time.perf_counter() - start)
        )
        for name, nlp in pipelines.items():
            start = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=256):
                pass
            best[name] = max(
                best.get(name, 0.0), len(texts) / (time.perf_counter() - start)
            )
    result = {
        "n_docs": len(texts),
        "repeats": repeats,
        "threads": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
        },
        "docs_per_second": best,
    }
    (out / f"speed_{int(time.time())}.json").write_text(
        json.dumps(result, indent=2), encoding="utf-8"
    )
    print(json.dumps(result, indent=2), flush=True)


def _load_or_init(name: str, out: Path, train_path: str):
    """The trained model-best, or (speed does not depend on the weights) the
    candidate built from its config and initialized on 100 training docs."""
    import spacy
    from spacy.tokens import DocBin
    from spacy.training import Example
    from thinc.api import Config

    trained = out / name / "model-best"
    if trained.exists():
        return spacy.load(trained)
    config = Config().from_str(config_text(name, 1, 0.001))
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    docs = list(DocBin().from_disk(train_path).get_docs(nlp.vocab))[:100]
    nlp.initialize(lambda: [Example(nlp.make_doc(d.text), d) for d in docs])
    return nlp


def table(out: Path) -> None:
    speeds: Dict[str, float] = {}
    for path in sorted(out.glob("speed_*.json")):
        speeds.update(json.loads(path.read_text())["docs_per_second"])
    tok = speeds.get("tokenizer")
    print(
        "| model | description | test macro-F1 | accuracy | docs/s (1 thread) | % of tokenizer |"
    )
    print("|---|---|---|---|---|---|")
    for name, (_, _, desc) in CANDIDATES.items():
        path = out / f"{name}.eval.json"
        if not path.exists():
            continue
        ev = json.loads(path.read_text())
        dps = speeds.get(name)
        pct = f"{100 * dps / tok:.1f}%" if dps and tok else "-"
        dps_s = f"{dps:,.0f}" if dps else "-"
        print(
            f"| {name} | {desc} | {ev['test_macro_f1']:.3f} | {ev['test_accuracy']:.3f} | {dps_s} | {pct} |"
        )
    if tok:
        print(f"| tokenizer only | spacy.blank('en') | - | - | {tok:,.0f} | 100% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "action", choices=["train", "evaluate", "speed", "table", "list"]
    )
    parser.add_argument("names", nargs="*")
    parser.add_argument("--out", type=Path, default=Path("arch_runs"))
    parser.add_argument("--train", default=TRAIN, help="gold training DocBin")
    parser.add_argument("--dev", default=DEV, help="dev DocBin")
    parser.add_argument("--test", default=TEST, help="test DocBin")
    parser.add_argument("--max-steps", type=int, default=2000)
    parser.add_argument("--learn-rate", type=float, default=0.001)
    parser.add_argument("--n-docs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    names = args.names or list(CANDIDATES)
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates {unknown}; choose from {list(CANDIDATES)}")
    if args.action == "train":
        train(names, args.out, args.max_steps, args.learn_rate, args.train, args.dev)
    elif args.action == "evaluate":
        evaluate(names, args.out, args.test)
    elif args.action == "speed":
        speed(names, args.out, args.n_docs, args.repeats, args.test, args.train)
    elif args.action == "table":
        table(args.out)
    else:
        for name, (_, _, desc) in CANDIDATES.items():
            print(f"{name}: {desc}")


if __name__ == "__main__":
    main()
