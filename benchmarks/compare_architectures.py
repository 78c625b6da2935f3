"""Choose the compact student architecture by measurement: accuracy and speed.

Trains each candidate textcat on the labelled budget (gold only) with plain
``python -m spacy train``, one run at a time, then reports test macro-F1 and
single-thread docs/s on 1,000 test docs (best of several passes, with the
tokenizer-only speed as a reference measured in the same process).

Usage:
    python benchmarks/compare_architectures.py ACTION [NAME ...] [--out arch_runs]

ACTION is train, evaluate or speed (for the NAMEd candidates, default all), table
or list.

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

TRAIN = "training/benchmark/split/labelled.spacy"
DEV = "training/benchmark/split/dev.spacy"
TEST = "corpus/test.spacy"

ATTRS4 = '["NORM", "PREFIX", "SUFFIX", "SHAPE"]'
ROWS4 = "[5000, 1000, 2500, 2500]"
MODEL = "components.textcat.model"


def model_block(
    *, ngram: int = 0, width: int = 0, depth: int = 0, use_max: bool = False
) -> str:
    """The ``[components.textcat.model]`` block of a candidate.

    ngram: a TextCatBOW over 1..ngram-grams. width: a CNN instead, spaCy's hash
    embeddings of this width followed by ``depth`` maxout window layers (depth 0:
    the embeddings alone), reduced by mean (and max, with use_max). Both ngram and
    width: a TextCatEnsemble of the BOW and the CNN.
    """
    bow = f"""
@architectures = "spacy.TextCatBOW.v3"
exclusive_classes = true
length = 262144
ngram_size = {ngram}
no_output_layer = false
"""
    if not width:
        return f"[{MODEL}]{bow}"
    embed = f"""
@architectures = "spacy.MultiHashEmbed.v2"
width = {width}
attrs = {ATTRS4}
rows = {ROWS4}
include_static_vectors = false
"""
    if depth:
        tok2vec = f"""
@architectures = "spacy.Tok2Vec.v2"

[{MODEL}.tok2vec.embed]{embed}
[{MODEL}.tok2vec.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = {width}
window_size = 1
maxout_pieces = 3
depth = {depth}
"""
    else:
        tok2vec = embed
    if ngram:
        head = f"""
@architectures = "spacy.TextCatEnsemble.v2"
nO = null

[{MODEL}.linear_model]{bow}"""
    else:
        head = f"""
@architectures = "spacy.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = {str(use_max).lower()}
use_reduce_mean = true
"""
    return f"[{MODEL}]{head}\n[{MODEL}.tok2vec]{tok2vec}"


# name -> (factory, model block, description)
CANDIDATES: Dict[str, tuple] = {
    "bow1_stock": (
        "textcat",
        model_block(ngram=1),
        "TextCatBOW unigrams, stock textcat (squared error)",
    ),
    "bow1_ce": (
        "kd_textcat",
        model_block(ngram=1),
        "TextCatBOW unigrams, cross-entropy",
    ),
    "bow2_ce": (
        "kd_textcat",
        model_block(ngram=2),
        "TextCatBOW uni+bigrams, cross-entropy",
    ),
    "cnn96d2": (
        "kd_textcat",
        model_block(width=96, depth=2),
        "CNN: MultiHashEmbed+MaxoutWindow w96 d2, mean (the default CNN), CE",
    ),
    "cnn64d1": (
        "kd_textcat",
        model_block(width=64, depth=1),
        "CNN w64 d1, mean, CE",
    ),
    "cnn32d1": (
        "kd_textcat",
        model_block(width=32, depth=1),
        "CNN w32 d1, mean, CE",
    ),
    "cnn64d1_max": (
        "kd_textcat",
        model_block(width=64, depth=1, use_max=True),
        "CNN w64 d1, mean+max, CE",
    ),
    "emb64_max": (
        "kd_textcat",
        model_block(width=64, use_max=True),
        "hash embeddings w64 (no window layer), mean+max, CE",
    ),
    "ens_bow1_cnn32d1": (
        "kd_textcat",
        model_block(ngram=1, width=32, depth=1),
        "TextCatEnsemble: BOW unigrams + CNN w32 d1, CE",
    ),
    "ens_bow2_cnn64d1": (
        "kd_textcat",
        model_block(ngram=2, width=64, depth=1),
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


def evaluate(names: List[str], out: Path, test_path: str) -> None:
    import spacy
    from spacy.tokens import DocBin

    from spacy_kd.classifier import predict
    from spacy_kd.evaluation.metrics import score_cats

    for name in names:
        nlp = spacy.load(out / name / "model-best")
        docs = list(DocBin().from_disk(test_path).get_docs(nlp.vocab))
        labels = list(nlp.get_pipe("textcat").labels)
        start = time.time()
        scores = predict(nlp, labels, (d.text for d in docs), batch_size=256)
        seconds = time.time() - start
        test = score_cats([d.cats for d in docs], scores, labels, multi_label=False)
        result = {
            "name": name,
            "test_macro_f1": test.macro_f,
            "test_accuracy": test.exact_match,
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
        "| model | description | test macro-F1 | accuracy | docs/s (1 thread) "
        "| % of tokenizer |"
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
            f"| {name} | {desc} | {ev['test_macro_f1']:.3f} "
            f"| {ev['test_accuracy']:.3f} | {dps_s} | {pct} |"
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
