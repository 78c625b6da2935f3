"""Print ELMo's speed for each size preset: inference and pretraining tokens/s.

Not a test: numbers depend on the machine and on what else runs on it.

    python benchmarks/bench_elmo.py                       # every preset, random weights
    python benchmarks/bench_elmo.py --presets tiny small --elmo-dir /tmp/elmo_small

Inference embeds real 20 Newsgroups texts through the frozen biLM (all layers,
windows of 64 tokens, as spacy-kd.ElmoTok2Vec.v1 and embed_docs run it).
Training runs optimizer steps of the pretraining objective (char CNN, biLSTM,
adaptive softmax, backward pass, Adam) on ``--train-windows`` windows of the
preset's length.
"""

import argparse
import json
import time
from pathlib import Path
from typing import List, Sequence

import torch

from spacy_kd.elmo.file_format import load_bilm_dir
from spacy_kd.elmo.pretrain import (
    Batcher,
    LmWindows,
    PretrainSettings,
    build_vocab,
    read_token_lists,
)
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.embedder import embed_token_lists
from spacy_kd.elmo.pytorch.language_model import ElmoLanguageModel

REPO = Path(__file__).resolve().parent.parent


def first_tokens(docs: Sequence[List[str]], n_tokens: int) -> List[List[str]]:
    out, total = [], 0
    for doc in docs:
        if total >= n_tokens:
            break
        out.append(doc[: n_tokens - total])
        total += len(out[-1])
    return out


def bench_inference(bilm: ElmoBiLm, docs, batch_size: int) -> float:
    n = sum(len(d) for d in docs)
    embed_token_lists(bilm, docs[:2], batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    embed_token_lists(bilm, docs, batch_size=batch_size)
    return n / (time.perf_counter() - start)


def bench_training(
    settings: PretrainSettings, docs, n_windows: int, steps: int
) -> float:
    vocab = build_vocab(docs, settings.vocab_size)
    index = {w: i for i, w in enumerate(vocab)}
    windows = LmWindows.build(docs, index, settings.window)
    full = [i for i, t in enumerate(windows.tokens) if len(t) == settings.window]
    torch.manual_seed(0)
    bilm = ElmoBiLm(settings.elmo_options(len(vocab)), dropout=settings.dropout)
    lm = ElmoLanguageModel(
        bilm, len(vocab), cutoffs=settings.cutoffs, dropout=settings.dropout
    )
    optimizer = torch.optim.Adam(lm.parameters(), lr=settings.lr)
    batcher = Batcher(windows, torch.device("cpu"))
    tokens, seconds = 0, 0.0
    for step in range(steps + 1):
        chosen = full[step * n_windows : (step + 1) * n_windows]
        start = time.perf_counter()
        ids, lengths, targets = batcher(chosen)
        loss = lm(ids, lengths, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step:  # the first step warms up
            seconds += time.perf_counter() - start
            tokens += int(targets.shape[0])
    return tokens / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=["tiny", "small", "medium", "large"]
    )
    parser.add_argument(
        "--corpus", type=Path, default=REPO / "tests" / "data" / "20ng_train.jsonl"
    )
    parser.add_argument(
        "--elmo-dir", type=Path, help="Also time a pretrained biLM (options+weights)"
    )
    parser.add_argument("--inference-tokens", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64, help="Windows per call")
    parser.add_argument("--train-windows", type=int, default=16)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="Also write the results here")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    docs = read_token_lists(args.corpus)
    sample = first_tokens(docs, args.inference_tokens)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); inference on "
        f"{sum(map(len, sample))} tokens of {args.corpus.name}; training on "
        f"{args.train_windows} windows x {args.train_steps} steps"
    )
    header = f"{'model':<22}{'params':>12}{'infer tok/s':>14}{'train tok/s':>14}"
    print(header)
    print("-" * len(header))
    results = []
    for preset in args.presets:
        settings = PretrainSettings.from_preset(preset)
        bilm = ElmoBiLm(settings.elmo_options(settings.vocab_size)).eval()
        params = sum(p.numel() for p in bilm.parameters())
        infer = bench_inference(bilm, sample, args.batch_size)
        train = bench_training(settings, docs, args.train_windows, args.train_steps)
        results.append(
            {"model": preset, "params": params, "infer": infer, "train": train}
        )
        print(f"{preset:<22}{params:>12,}{infer:>14,.0f}{train:>14,.0f}", flush=True)
    if args.elmo_dir is not None:
        bilm = load_bilm_dir(args.elmo_dir).eval()
        params = sum(p.numel() for p in bilm.parameters())
        infer = bench_inference(bilm, sample, args.batch_size)
        name = f"{args.elmo_dir.name} (trained)"
        results.append({"model": name, "params": params, "infer": infer, "train": None})
        print(f"{name:<22}{params:>12,}{infer:>14,.0f}{'-':>14}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
