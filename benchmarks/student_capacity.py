"""How much of the teacher a bag-of-words student can hold on a test set, at best.

The other-domain target of #14 asks a student to keep three quarters of the
teacher's gain over the baseline on text from another domain. This measures the
most that the cheap students' family can keep there: a linear model over the same
features as ``spacy-kd.TfidfLinear.v1`` / ``spacy-kd.TfidfMeanVectors.v1`` (TF-IDF
unigrams of LOWER, sublinear tf, L2-normalised rows; the mean of the run's static
vectors over all tokens, a word without a row counting as zeros), and a one-hidden-
layer network over the mean vector, trained on the teacher's own probabilities for
half of that very test set (transductive: the student never gets such data, so this
is an upper bound), then scored on the other half against the teacher and the
run's baseline on the same half. With ``--with-run`` the run's gold docs and its
pool's teacher probabilities are added to the training data, as the students have
them.

Usage (a workflow's training folder; scikit-learn must be installed, it is not a
dependency of spacy_kd):
    python benchmarks/student_capacity.py training/short_text \\
        --set test=corpus/vader-movies/test.spacy \\
        --set nyt=corpus/vader-movies/extra/vader-nyt.spacy --with-run \\
        --out capacity.json

With ``--write-halves DIR`` it writes the same halves instead (and measures
nothing), with a transfer set of the run's pool and every set's trained half, so
that the project's own students can be trained the same way: ``annotate`` the
transfer set with the teacher, ``students`` on that run, ``evaluate`` on each
``NAME_b.spacy``.

Exclusive labels only. A reference measurement outside the package (scikit-learn's
logistic regression, C=10, soft targets as weighted copies of each doc); it prints
numbers and asserts nothing.
"""

import argparse
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy
import spacy
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.neural_network import MLPClassifier
from spacy.strings import get_string_id
from spacy.tokens import Doc

from spacy_kd.annotate.manifest import iter_shards
from spacy_kd.annotate.pseudo import pseudo_record
from spacy_kd.data.docbin import read_docbin, write_docbin
from spacy_kd.evaluation.metrics import gold_argmax
from spacy_kd.util import write_json_atomic

FRACTIONS = (0.25, 0.5, 1.0)


def predict(path: Path, docs: Sequence[Doc], labels: Sequence[str]) -> numpy.ndarray:
    """Each doc's probabilities from a pipeline, columns in ``labels`` order."""
    nlp = spacy.load(path)
    texts = [doc.text for doc in docs]
    rows = [[d.cats[x] for x in labels] for d in nlp.pipe(texts, batch_size=64)]
    return numpy.asarray(rows, dtype="float64")


def lower(doc: Doc) -> List[str]:
    return [t.lower_ for t in doc]


def mean_vectors(docs: Sequence[Doc], vectors) -> numpy.ndarray:
    """The mean of each doc's rows over all its tokens (zeros for a word without a
    row), as ``spacy-kd.TfidfMeanVectors.v1`` reads them (by LOWER)."""
    table = numpy.asarray(vectors.data, dtype="float32")
    out = numpy.zeros((len(docs), table.shape[1]), dtype="float32")
    for i, doc in enumerate(docs):
        rows = [vectors.key2row.get(get_string_id(w), -1) for w in lower(doc)]
        found = [r for r in rows if r >= 0]
        if found:
            out[i] = table[found].sum(axis=0) / len(rows)
    return out


def soft_copies(
    X: sparse.csr_matrix, P: numpy.ndarray, labels: Sequence[str]
) -> Tuple[sparse.csr_matrix, numpy.ndarray, numpy.ndarray]:
    """Soft targets for scikit-learn: each row once per label, weighted by its
    probability."""
    k = len(labels)
    Xs = sparse.vstack([X] * k).tocsr()
    y = numpy.concatenate([numpy.full(X.shape[0], lab) for lab in labels])
    w = numpy.concatenate([P[:, j] for j in range(k)])
    return Xs, y, w


def macro_f1(gold: numpy.ndarray, pred: numpy.ndarray, labels: Sequence[str]) -> float:
    return float(f1_score(gold, pred, labels=list(labels), average="macro"))


def gain_kept(value: float, baseline: float, teacher: float) -> float:
    return (
        (value - baseline) / (teacher - baseline)
        if teacher > baseline
        else float("nan")
    )


def halves(n: int, seed: int) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """A seeded split of ``n`` docs: the trained half and the scored half."""
    order = numpy.random.RandomState(seed).permutation(n)
    return order[: n // 2], order[n // 2 :]


def write_halves(
    out_dir: Path, sets: Dict[str, List[Doc]], run: Path, seed: int
) -> None:
    """Each set's two halves as NAME_a.spacy / NAME_b.spacy, and transfer.spacy: the
    run's pool followed by every set's trained half without labels, for the
    project's own students (``annotate`` it with the teacher, then ``students``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    transfer = read_docbin(run / "split" / "pool.spacy")
    for name, docs in sets.items():
        half_a, half_b = halves(len(docs), seed)
        for tag, part in (("a", half_a), ("b", half_b)):
            write_docbin((docs[i] for i in part), out_dir / f"{name}_{tag}.spacy")
        for i in half_a:
            doc = docs[i].copy()
            doc.cats = {}
            transfer.append(doc)
    write_docbin(transfer, out_dir / "transfer.spacy")


def measure_set(
    name: str,
    docs: List[Doc],
    args: argparse.Namespace,
    run: Dict,
) -> Dict:
    labels, vectors = run["labels"], run["vectors"]
    half_a, half_b = halves(len(docs), args.seed)
    teacher_p = predict(args.run / args.teacher / "model-best", docs, labels)
    lab = numpy.asarray(labels)
    gold = lab[[gold_argmax(d.cats, labels) for d in docs]]
    result: Dict = {"n_train": len(half_a), "n_scored": len(half_b)}
    top_b = lab[teacher_p[half_b].argmax(1)]
    result["teacher"] = macro_f1(gold[half_b], top_b, labels)
    baseline_p = predict(
        args.run / "students" / args.baseline / "model-best", docs, labels
    )
    result["baseline"] = macro_f1(
        gold[half_b], lab[baseline_p[half_b].argmax(1)], labels
    )
    mv = mean_vectors(docs, vectors)
    rows: List[Dict] = []

    def score(kind: str, with_run: bool, n: int, pred: numpy.ndarray) -> None:
        f1 = macro_f1(gold[half_b], pred, labels)
        rows.append({
            "model": kind, "with_run": with_run, "n_set_docs": int(n),
            "macro_f1": round(f1, 4),
            "agreement": round(float((pred == top_b).mean()), 4),
            "gain_kept": round(gain_kept(f1, result["baseline"], result["teacher"]), 3),
        })  # fmt: skip

    for with_run in (False, True) if args.with_run else (False,):
        for frac in FRACTIONS:
            part = half_a[: int(len(half_a) * frac)]
            train_docs = [docs[i] for i in part]
            P = teacher_p[part]
            extra_mv = numpy.zeros((0, mv.shape[1]), dtype="float32")
            if with_run:
                train_docs = run["gold"] + run["pool"] + train_docs
                P = numpy.vstack([run["gold_p"], run["pool_p"], P])
                extra_mv = numpy.vstack([run["gold_mv"], run["pool_mv"]])
            tfidf = TfidfVectorizer(analyzer=lower, sublinear_tf=True)
            Xt = tfidf.fit_transform(train_docs)
            Xm = numpy.vstack([extra_mv, mv[part]]) * run["scale"]
            Xb_t = tfidf.transform([docs[i] for i in half_b])
            Xb_m = mv[half_b] * run["scale"]
            for kind in ("tfidf", "tfidf+mean vectors"):
                X, Xb = Xt, Xb_t
                if kind != "tfidf":
                    X = sparse.hstack([Xt, Xm]).tocsr()
                    Xb = sparse.hstack([Xb_t, Xb_m]).tocsr()
                Xs, y, w = soft_copies(X, P, labels)
                model = LogisticRegression(C=args.C, max_iter=3000).fit(
                    Xs, y, sample_weight=w
                )
                score(kind, with_run, len(part), model.predict(Xb))
            if frac == 1.0:
                mlp = MLPClassifier(
                    hidden_layer_sizes=(args.hidden,),
                    max_iter=200,
                    early_stopping=True,
                    random_state=args.seed,
                )
                mlp.fit(Xm, lab[P.argmax(1)])
                kind = f"mean vectors, {args.hidden} hidden (teacher's top label)"
                score(kind, with_run, len(part), mlp.predict(Xb_m))
            print(f"{name}: {rows[-1]}", flush=True)
    result["bounds"] = rows
    return result


def teacher_probs(doc: Doc, teacher: str, labels: Sequence[str]) -> List[float]:
    """One teacher's stored probabilities of a pseudo-labelled doc, in ``labels``
    order."""
    record = pseudo_record(doc)
    if record is None:
        raise ValueError("a doc of the annotate run carries no teacher record")
    probs = dict(zip(record["labels"], record["probs"][teacher]))
    return [float(probs[x]) for x in labels]


def load_run(args: argparse.Namespace) -> Dict:
    nlp = spacy.load(args.run / "vectors" / "spacy")
    vectors = nlp.vocab.vectors
    vocab = nlp.vocab
    gold = read_docbin(args.run / "split" / "labelled.spacy", vocab=vocab)
    pool = [
        d
        for shard in iter_shards(args.run / "pseudo")
        for d in read_docbin(shard, vocab=vocab)
    ]
    labels = sorted({x for d in gold for x in d.cats})
    gold_p = numpy.asarray([[d.cats.get(x, 0.0) for x in labels] for d in gold])
    pool_p = numpy.asarray([teacher_probs(d, args.teacher, labels) for d in pool])
    gold_mv = mean_vectors(gold, vectors)
    scale = 1.0 / float(numpy.linalg.norm(gold_mv, axis=1).mean() or 1.0)
    return {
        "labels": labels,
        "vectors": vectors,
        "vocab": vocab,
        "gold": gold,
        "pool": pool,
        "gold_p": gold_p,
        "pool_p": pool_p,
        "gold_mv": gold_mv,
        "pool_mv": mean_vectors(pool, vectors),
        "scale": scale,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a workflow's training folder")
    parser.add_argument("--set", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--teacher", default="teacher_bert")
    parser.add_argument("--baseline", default="baseline_tfidf")
    parser.add_argument(
        "--with-run",
        action="store_true",
        help="also train with the run's gold docs and pool probabilities",
    )
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--write-halves",
        type=Path,
        metavar="DIR",
        help="write each set's halves and a transfer set of the pool and the trained "
        "halves to DIR, and measure nothing",
    )
    args = parser.parse_args()
    if args.write_halves:
        sets = {}
        for spec in args.set:
            name, _, path = spec.partition("=")
            sets[name] = read_docbin(path)
        write_halves(args.write_halves, sets, args.run, args.seed)
        print(f"halves and transfer.spacy written to {args.write_halves}")
        return
    run = load_run(args)
    report = {
        "run": str(args.run),
        "teacher": args.teacher,
        "baseline": args.baseline,
        "C": args.C,
        "seed": args.seed,
        "sets": {},
    }
    for spec in args.set:
        name, _, path = spec.partition("=")
        docs = read_docbin(path, vocab=run["vocab"])
        report["sets"][name] = measure_set(name, docs, args, run)
    if args.out:
        write_json_atomic(args.out, report)
    for name, res in report["sets"].items():
        print(
            f"\n{name}: teacher {res['teacher']:.3f}, {args.baseline} "
            f"{res['baseline']:.3f} (on the {res['n_scored']} scored docs)"
        )
        print(
            "| model | + the run's data | set docs | macro-F1 | agreement | gain kept |"
        )
        print("|---|---|---:|---:|---:|---:|")
        for r in res["bounds"]:
            print(
                f"| {r['model']} | {'yes' if r['with_run'] else 'no'} "
                f"| {r['n_set_docs']} | {r['macro_f1']:.3f} | {r['agreement']:.3f} "
                f"| {r['gain_kept']:.2f} |"
            )


if __name__ == "__main__":
    main()
