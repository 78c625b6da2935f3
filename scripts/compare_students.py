"""Students against the baselines: spaCy's stock textcat, the gold-only baseline, and
students trained on a teacher's hard and soft pseudo-labels with several caps.

Every model is trained with plain ``python -m spacy train`` from the shipped
configs (one run at a time), then scored on the test set (macro-F1, accuracy).

    # the real measurement, once `annotate` has written soft and --hard shards:
    python scripts/compare_students.py run --soft pseudo_soft/ --hard pseudo_hard/ \\
        --caps 3000 5000 0 --out /tmp/student_runs [--teacher-f1 0.80]
    python scripts/compare_students.py table --out /tmp/student_runs

    # a synthetic pipeline check before any teacher exists (NOT a result): shards
    # whose soft labels are made from the pool's removed gold labels plus noise
    python scripts/compare_students.py simulate /tmp/c20/split/pool_gold.spacy \\
        /tmp/sim --accuracy 0.85

``stock`` is configs/baseline_cnn.cfg with the stock ``textcat`` (spaCy's
squared-error loss) in place of ``kd_textcat``: the same architecture and
tuning, spaCy's own loss.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy

REPO = Path(__file__).resolve().parent.parent
TRAIN = "/tmp/c20/split/labelled.spacy"
DEV = "/tmp/c20/split/dev.spacy"
TEST = "/tmp/c20/test.spacy"
STUDENT_SETTINGS = ("temperature", "alpha", "loss")


def stock_config(out: Path) -> Path:
    """configs/baseline_cnn.cfg with spaCy's stock textcat and no distillation callback."""
    from thinc.api import Config

    config = Config().from_disk(
        REPO / "configs" / "baseline_cnn.cfg", interpolate=False
    )
    block = config["components"]["textcat"]
    block["factory"] = "textcat"
    for key in STUDENT_SETTINGS:
        block.pop(key, None)
    config["training"]["before_update"] = None
    config["training"]["before_to_disk"] = None
    path = out / "stock.cfg"
    config.to_disk(path)
    return path


def runs(
    soft: Optional[Path], hard: Optional[Path], caps: List[int]
) -> Dict[str, List[str]]:
    """Run name -> ``spacy train`` arguments after the config path."""
    plan: Dict[str, List[str]] = {"stock": [], "baseline": []}
    for kind, folder in (("hard", hard), ("soft", soft)):
        if folder is None:
            continue
        for cap in caps:
            name = f"{kind}_{cap or 'all'}"
            plan[name] = [
                "--paths.pseudo",
                str(folder),
                "--distillation.max_pseudo",
                str(cap),
            ]
    return plan


def train(
    out: Path,
    soft: Optional[Path],
    hard: Optional[Path],
    caps: List[int],
    extra: List[str],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, args in runs(soft, hard, caps).items():
        if (out / name / "model-best").exists():
            print(f"{name}: already trained", flush=True)
            continue
        if name == "stock":
            config = stock_config(out)
        elif name == "baseline":
            config = REPO / "configs" / "baseline_cnn.cfg"
        else:
            config = REPO / "configs" / "student_cnn.cfg"
        cmd = [
            sys.executable, "-m", "spacy", "train", str(config), "--output", str(out / name),
            "--paths.train", TRAIN, "--paths.dev", DEV, *args, *extra,
        ]  # fmt: skip
        start = time.time()
        with open(out / f"{name}.train.log", "w", encoding="utf-8") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        print(f"{name}: rc={rc} in {time.time() - start:.0f}s", flush=True)
        if rc == 0:
            evaluate(out, name)


def macro_f1(gold: numpy.ndarray, pred: numpy.ndarray, n: int) -> float:
    f1s = []
    for k in range(n):
        tp = float(((pred == k) & (gold == k)).sum())
        fp = float(((pred == k) & (gold != k)).sum())
        fn = float(((pred != k) & (gold == k)).sum())
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(numpy.mean(f1s))


def evaluate(out: Path, name: str) -> None:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.load(out / name / "model-best")
    docs = list(DocBin().from_disk(TEST).get_docs(nlp.vocab))
    labels = list(nlp.get_pipe("textcat").labels)
    gold = numpy.array([labels.index(max(d.cats, key=d.cats.get)) for d in docs])
    preds = [d.cats for d in nlp.pipe((d.text for d in docs), batch_size=256)]
    pred = numpy.array([labels.index(max(c, key=c.get)) for c in preds])
    result = {
        "name": name,
        "test_macro_f1": macro_f1(gold, pred, len(labels)),
        "test_accuracy": float((gold == pred).mean()),
        "n_test": len(docs),
        "factory": nlp.get_pipe_meta("textcat").factory,
    }
    (out / f"{name}.eval.json").write_text(
        json.dumps(result, indent=2), encoding="utf-8"
    )
    print(json.dumps(result), flush=True)


def table(out: Path, teacher_f1: Optional[float]) -> None:
    print("| model | pseudo-labelled docs | test macro-F1 | accuracy |")
    print("|---|---|---|---|")
    for path in sorted(out.glob("*.eval.json"), key=lambda p: _order(p.name)):
        ev = json.loads(path.read_text())
        name = ev["name"]
        docs = "-" if "_" not in name else name.split("_")[1]
        print(
            f"| {name} | {docs} | {ev['test_macro_f1']:.3f} | {ev['test_accuracy']:.3f} |"
        )
    if teacher_f1 is not None:
        print(f"| teacher | - | {teacher_f1:.3f} | - |")


def _order(name: str):
    head = name.split(".")[0]
    kind = head.split("_")[0]
    rank = {"stock": 0, "baseline": 1, "hard": 2, "soft": 3}.get(kind, 4)
    cap = head.split("_")[1] if "_" in head else ""
    return (rank, int(cap) if cap.isdigit() else 10**9)


def simulate(
    pool_gold: Path,
    out: Path,
    accuracy: float,
    seed: int,
    shard_size: int,
    noise: float = 1.0,
) -> None:
    """Write soft/ and hard/ shards from gold labels plus noise (a synthetic teacher)."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_kd.training.annotations import mark_pseudo

    nlp = spacy.blank("en")
    docs = list(DocBin(store_user_data=True).from_disk(pool_gold).get_docs(nlp.vocab))
    labels = sorted(docs[0].cats)
    rng = numpy.random.default_rng(seed)
    soft_docs, hard_docs, right = [], [], 0
    for doc in docs:
        gold = labels.index(max(doc.cats, key=doc.cats.get))
        z = rng.normal(0, noise, len(labels))
        top = gold if rng.random() < accuracy else int(rng.integers(len(labels)))
        z[top] += 4.0
        p = numpy.exp(z - z.max())
        p /= p.sum()
        right += int(p.argmax() == gold)
        for hard, bucket in ((False, soft_docs), (True, hard_docs)):
            copy = nlp.make_doc(doc.text)
            copy.user_data.update(doc.user_data)
            mark_pseudo(
                copy, labels=labels, probs={"simulated": p.tolist()},
                logits={"simulated": z.tolist()}, multi_label=False, hard=hard,
            )  # fmt: skip
            bucket.append(copy)
    for kind, bucket in (("soft", soft_docs), ("hard", hard_docs)):
        folder = out / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(bucket), shard_size):
            part = DocBin(docs=bucket[i : i + shard_size], store_user_data=True)
            part.to_disk(folder / f"shard-{i // shard_size:05d}.spacy")
    print(json.dumps({"docs": len(docs), "pseudo_label_accuracy": right / len(docs)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run")
    run.add_argument("--soft", type=Path)
    run.add_argument("--hard", type=Path)
    run.add_argument("--caps", type=int, nargs="+", default=[3000, 5000, 0])
    run.add_argument("--out", type=Path, default=Path("/tmp/student_runs"))
    run.add_argument("--teacher-f1", type=float)
    run.add_argument(
        "overrides",
        nargs="*",
        help="extra spacy train overrides, e.g. --distillation.temperature 4",
    )
    tab = sub.add_parser("table")
    tab.add_argument("--out", type=Path, default=Path("/tmp/student_runs"))
    tab.add_argument("--teacher-f1", type=float)
    sim = sub.add_parser("simulate")
    sim.add_argument("pool_gold", type=Path)
    sim.add_argument("out", type=Path)
    sim.add_argument("--accuracy", type=float, default=0.85)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--shard-size", type=int, default=1000)
    sim.add_argument(
        "--noise", type=float, default=1.0, help="std of the noise on each logit"
    )
    args, unknown = parser.parse_known_args()
    if args.action == "run":
        train(args.out, args.soft, args.hard, args.caps, list(args.overrides) + unknown)
        table(args.out, args.teacher_f1)
    elif args.action == "table":
        table(args.out, args.teacher_f1)
    else:
        simulate(
            args.pool_gold,
            args.out,
            args.accuracy,
            args.seed,
            args.shard_size,
            args.noise,
        )


if __name__ == "__main__":
    main()
