"""Compare spacy_kd's ELMo with allennlp's on the same random weights and sentences.

Run by scripts/check_allennlp_parity.sh inside a throwaway venv that has
allennlp 2.10.1; not part of the test suite. Two weights files are checked:

* ``written``: a randomly initialised spacy_kd biLM saved by spacy_kd's writer
  (spacy_kd -> allennlp);
* ``raw``: random arrays written straight with h5py in bilm-tf's layout
  (allennlp's reader and ours on a file neither of us wrote).

For each, both implementations embed the same sentences; every layer's forward
and backward halves, the character ids and the scalar mix (with and without
layer norm) are compared. Exit status 1 if any difference reaches the tolerance.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import h5py
import numpy
import torch

SENTENCES: List[List[str]] = [
    ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"],
    ["a"],
    [],
    ["x" * 200, "after", "a", "very", "long", "token"],
    ["unicode", "café", "naïve", "中文", "🙂", ""],
    ["repeated"] * 23,
    ["short", "one"],
]

OPTIONS = {
    "lstm": {
        "dim": 48,
        "projection_dim": 24,
        "n_layers": 2,
        "cell_clip": 3,
        "proj_clip": 3,
        "use_skip_connections": True,
    },
    "char_cnn": {
        "activation": "relu",
        "embedding": {"dim": 8},
        "filters": [[1, 8], [2, 8], [3, 16], [4, 16], [5, 32]],
        "n_highway": 2,
        "max_characters_per_token": 50,
        "n_characters": 262,
    },
}


# allennlp adds TF's forget bias of 1.0 to the stored bias in float32 when it
# loads a file, which rounds; we add it in the compute dtype. LSTM biases on a
# grid of 2**-20 make ``b + 1`` exact in float32, so that the float64 comparison
# is not blurred by allennlp's load-time rounding.
BIAS_GRID = 2.0**-20


def on_grid(x):
    return (x / BIAS_GRID).round() * BIAS_GRID


def randomise(module: torch.nn.Module, seed: int, scale: float) -> None:
    """Replace every parameter with N(0, scale) noise (the padding row stays 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * scale)
            if name.endswith("char_embedding.weight"):
                param[0].zero_()
            if name.endswith("input_linearity.bias"):
                param.copy_(on_grid(param))


def write_raw_file(path: Path, options: Dict, seed: int, scale: float) -> None:
    """Random arrays in bilm-tf's layout, written with h5py only."""
    rng = numpy.random.default_rng(seed)
    lstm, cnn = options["lstm"], options["char_cnn"]
    char_dim = cnn["embedding"]["dim"]
    n_filters = sum(n for _, n in cnn["filters"])
    proj, cell = lstm["projection_dim"], lstm["dim"]

    def rand(*shape: int) -> numpy.ndarray:
        return (rng.standard_normal(shape) * scale).astype("float32")

    with h5py.File(path, "w") as f:
        f["char_embed"] = rand(cnn["n_characters"] - 1, char_dim)
        for i, (width, num) in enumerate(cnn["filters"]):
            f[f"CNN/W_cnn_{i}"] = rand(1, width, char_dim, num)
            f[f"CNN/b_cnn_{i}"] = rand(num)
        for k in range(cnn["n_highway"]):
            for part in ("transform", "carry"):
                f[f"CNN_high_{k}/W_{part}"] = rand(n_filters, n_filters)
                f[f"CNN_high_{k}/b_{part}"] = rand(n_filters)
        f["CNN_proj/W_proj"] = rand(n_filters, proj)
        f["CNN_proj/b_proj"] = rand(proj)
        for d in (0, 1):
            for layer in range(lstm["n_layers"]):
                prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                f[f"{prefix}/W_0"] = rand(2 * proj, 4 * cell)
                f[f"{prefix}/B"] = on_grid(rand(4 * cell))
                f[f"{prefix}/W_P_0"] = rand(cell, proj)


def verdict(diff: float, tol: float, judged: bool) -> str:
    if not judged:
        return "(not judged)"
    return "ok" if diff < tol else "FAIL"


def compare(
    options_path: Path,
    weights_path: Path,
    label: str,
    tol: float,
    dtype: torch.dtype,
    judged: bool = True,
) -> bool:
    """Run both implementations in ``dtype``; print (and check) every difference."""
    from allennlp.modules.elmo import Elmo, batch_to_ids

    from spacy_kd.elmo.char_ids import batch_to_char_ids
    from spacy_kd.elmo.file_format import load_bilm
    from spacy_kd.elmo.pytorch.embedder import ElmoRepresentation
    from spacy_kd.elmo.pytorch.scalar_mix import ScalarMix

    label = f"{label} {str(dtype).replace('torch.', '')}"
    ok = True
    theirs_ids = batch_to_ids(SENTENCES)
    ours_ids = torch.from_numpy(batch_to_char_ids(SENTENCES))
    same_ids = torch.equal(theirs_ids, ours_ids)
    print(f"[{label}] character ids identical: {same_ids} {tuple(ours_ids.shape)}")
    ok &= same_ids

    mix_weights = [0.3, -0.7, 1.1]

    def allennlp_elmo(layer_norm: bool) -> "Elmo":
        # a fresh module: allennlp's ElmoLstm is stateful (it carries the final
        # states into the next call); ours always starts from zero states
        return (
            Elmo(
                str(options_path),
                str(weights_path),
                num_output_representations=1,
                dropout=0.0,
                do_layer_norm=layer_norm,
                scalar_mix_parameters=mix_weights,
            )
            .to(dtype)
            .eval()
        )

    bilm = load_bilm(options_path, weights_path).to(dtype).eval()
    half = bilm.options.projection_dim
    with torch.no_grad():
        theirs = allennlp_elmo(False)._elmo_lstm(theirs_ids)
        acts, mask = bilm(ours_ids)
        same_mask = torch.equal(theirs["mask"], mask)
        print(f"[{label}] masks identical: {same_mask}")
        ok &= same_mask
        m = mask.unsqueeze(-1)
        for k, (a, b) in enumerate(zip(theirs["activations"], acts)):
            for name, sl in (
                ("forward", slice(0, half)),
                ("backward", slice(half, None)),
            ):
                diff = ((a[..., sl] - b[..., sl]).abs() * m).max().item()
                scale = (a[..., sl].abs() * m).max().item()
                flag = verdict(diff, tol, judged)
                ok &= diff < tol or not judged
                print(
                    f"[{label}] layer {k} {name:8s} max |diff| = {diff:.3e}"
                    f"  (max |value| {scale:.3f})  {flag}"
                )
        for name, layer_norm in (("", False), (" + layer norm", True)):
            theirs_rep = allennlp_elmo(layer_norm)(theirs_ids)["elmo_representations"][
                0
            ]
            rep = ElmoRepresentation("scalar_mix", bilm=bilm).eval()
            rep.scalar_mix = ScalarMix(
                3, layer_norm=layer_norm, initial_weights=mix_weights
            )
            rep.to(dtype)
            if layer_norm:
                # allennlp normalises over the batch, boundary positions included
                layers, full_mask = bilm(ours_ids)
                mixed = rep.scalar_mix(layers, full_mask)
                steps = ours_ids.shape[1]
                ours_rep = mixed[:, 1 : steps + 1] * full_mask[
                    :, 2 : steps + 2
                ].unsqueeze(-1)
            else:
                ours_rep = rep(ours_ids)
            diff = (theirs_rep - ours_rep).abs().max().item()
            flag = verdict(diff, tol, judged)
            ok &= diff < tol or not judged
            print(f"[{label}] scalar mix{name}: max |diff| = {diff:.3e}  {flag}")
        # show that the clips matter on these weights: outputs move without them
        for clip in ("cell_clip", "proj_clip"):
            cells = [cell for _, _, cell in bilm.lstm.directions()]
            saved = [getattr(cell, clip) for cell in cells]
            for cell in cells:
                setattr(cell, clip, None)
            unclipped, _ = bilm(ours_ids)
            for cell, value in zip(cells, saved):
                setattr(cell, clip, value)
            moved = max((u - a).abs().max().item() for u, a in zip(unclipped, acts))
            print(f"[{label}] without {clip}: outputs move by up to {moved:.3e}")
    return ok


def write_clipping_file(path: Path, options: Dict, seed: int) -> None:
    """Small random weights, but gate biases and projections that hit both clips.

    Input and forget gates open (bias +4), a strong candidate (bias +-3): the cell
    grows by about 1 a step until ``cell_clip``; large projection weights push
    the state past ``proj_clip``.
    """
    write_raw_file(path, options, seed, 0.1)
    rng = numpy.random.default_rng(seed + 100)
    cell = options["lstm"]["dim"]
    with h5py.File(path, "r+") as f:
        for d in (0, 1):
            for layer in range(options["lstm"]["n_layers"]):
                prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
                bias = f[f"{prefix}/B"][...]
                bias[:cell] += 4.0  # input gate
                bias[cell : 2 * cell] = 3.0 * rng.choice([-1.0, 1.0], cell)  # candidate
                bias[2 * cell : 3 * cell] += 4.0  # forget gate
                f[f"{prefix}/B"][...] = bias
                proj = f[f"{prefix}/W_P_0"][...]
                f[f"{prefix}/W_P_0"][...] = proj * 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-5, help="float32 tolerance")
    parser.add_argument("--tol64", type=float, default=1e-9, help="float64 tolerance")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="Keep the files here")
    args = parser.parse_args()

    from spacy_kd.elmo.file_format import save_bilm
    from spacy_kd.elmo.options import ElmoOptions
    from spacy_kd.elmo.pytorch.bilm import ElmoBiLm

    torch.set_num_threads(1)
    work = args.out or Path(tempfile.mkdtemp(prefix="elmo_parity_"))
    work.mkdir(parents=True, exist_ok=True)
    cases = []
    # 1. spacy_kd writes, allennlp reads
    written = work / "written"
    bilm = ElmoBiLm(ElmoOptions.from_dict(OPTIONS))
    randomise(bilm, args.seed, 0.1)
    save_bilm(bilm, written)
    cases.append(("written", written, True))
    # 2. a file neither wrote (h5py arrays in bilm-tf's layout)
    raw = work / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "options.json").write_text(json.dumps(OPTIONS))
    write_raw_file(raw / "weights.hdf5", OPTIONS, args.seed + 1, 0.1)
    cases.append(("raw", raw, True))
    # 3. weights that drive both clips
    clipping = work / "clipping"
    clipping.mkdir(exist_ok=True)
    (clipping / "options.json").write_text(json.dumps(OPTIONS))
    write_clipping_file(clipping / "weights.hdf5", OPTIONS, args.seed + 2)
    cases.append(("clipping", clipping, True))
    # 4. large random weights: saturated gates, activations up to ~100. float32
    # rounding (different summation orders) is amplified here, so float32 is
    # shown but only float64 is judged.
    saturated = work / "saturated"
    bilm = ElmoBiLm(ElmoOptions.from_dict(OPTIONS))
    randomise(bilm, args.seed + 3, 0.5)
    save_bilm(bilm, saturated)
    cases.append(("saturated", saturated, False))

    ok = True
    for label, folder, judge32 in cases:
        options, weights = folder / "options.json", folder / "weights.hdf5"
        ok &= compare(options, weights, label, args.tol, torch.float32, judge32)
        ok &= compare(options, weights, label, args.tol64, torch.float64)
    print(
        "PARITY OK" if ok else "PARITY FAILED",
        f"(float32 tolerance {args.tol:g}, float64 tolerance {args.tol64:g})",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
