"""ELMo's torch modules against hand computations and float64 references."""

import math

import numpy
import pytest
import torch

from spacy_kd.elmo.char_ids import batch_to_char_ids
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.elmo.pytorch.highway import Highway
from spacy_kd.elmo.pytorch.lstm import (
    ElmoLstm,
    LstmCellWithProjection,
    reverse_padded,
)
from spacy_kd.elmo.pytorch.scalar_mix import ScalarMix


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def tiny_options(**kwargs) -> ElmoOptions:
    values = dict(
        filters=[(1, 4), (2, 4), (3, 8)], projection_dim=6, cell_dim=10, n_layers=2
    )
    values.update(kwargs)
    return ElmoOptions(**values)


def test_highway_by_hand():
    layer = Highway(2, 1)
    with torch.no_grad():
        # rows 0-1: the transform A, rows 2-3: the gate B
        layer.layers[0].weight.copy_(
            torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 1.0]])
        )
        layer.layers[0].bias.copy_(torch.tensor([0.0, -1.0, 0.0, 0.5]))
    y = layer(torch.tensor([[1.0, 2.0]]))
    # relu(A x + a) = [1, 1]; gate = sigmoid([1.5, 1.5]); y = g x + (1 - g) [1, 1]
    g = 1 / (1 + math.exp(-1.5))
    assert y[0, 0].item() == pytest.approx(1.0, abs=1e-7)
    assert y[0, 1].item() == pytest.approx(1 + g, abs=1e-6)  # 1.8175744...


def test_two_highway_layers_match_float64_formula():
    layer = Highway(5, 2)
    x = torch.randn(3, 5)
    y = layer(x).detach().numpy()
    ref = x.numpy().astype(numpy.float64)
    for lin in layer.layers:
        w, b = (
            lin.weight.detach().numpy().astype(numpy.float64),
            lin.bias.detach().numpy(),
        )
        z = ref @ w.T + b
        g = 1 / (1 + numpy.exp(-z[:, 5:]))
        ref = g * ref + (1 - g) * numpy.maximum(z[:, :5], 0)
    numpy.testing.assert_allclose(y, ref, atol=1e-6)


def numpy_cell(x, cell: LstmCellWithProjection):
    """float64 LSTMP with clips, gates in torch order i, f, g, o (+1 on f)."""
    w_in = cell.input_linearity.weight.detach().numpy().astype(numpy.float64)
    b = cell.input_linearity.bias.detach().numpy().astype(numpy.float64)
    w_st = cell.state_linearity.weight.detach().numpy().astype(numpy.float64)
    w_p = cell.state_projection.weight.detach().numpy().astype(numpy.float64)
    n = cell.cell_size
    h = numpy.zeros(cell.hidden_size)
    c = numpy.zeros(n)
    out = []
    for xt in x:
        z = w_in @ xt + b + w_st @ h
        i, f, g, o = (z[k * n : (k + 1) * n] for k in range(4))
        s = lambda v: 1 / (1 + numpy.exp(-v))  # noqa: E731
        c = s(i) * numpy.tanh(g) + s(f + 1.0) * c
        if cell.cell_clip:
            c = numpy.clip(c, -cell.cell_clip, cell.cell_clip)
        h = w_p @ (s(o) * numpy.tanh(c))
        if cell.proj_clip:
            h = numpy.clip(h, -cell.proj_clip, cell.proj_clip)
        out.append(h)
    return numpy.array(out)


@pytest.mark.parametrize("clip", [None, 0.3], ids=["no-clip", "clip-active"])
def test_lstm_cell_matches_float64_reference(clip):
    cell = LstmCellWithProjection(4, 3, 5, cell_clip=clip, proj_clip=clip)
    with torch.no_grad():
        for p in cell.parameters():
            p.mul_(3.0)  # big enough for the clips to bite
    x = torch.randn(2, 7, 4)
    y = cell(x).detach().numpy()
    for row in range(2):
        ref = numpy_cell(x[row].numpy().astype(numpy.float64), cell)
        numpy.testing.assert_allclose(y[row], ref, atol=2e-6)
    if clip:
        assert numpy.abs(y).max() == pytest.approx(clip)
        unclipped = LstmCellWithProjection(4, 3, 5)
        unclipped.load_state_dict(cell.state_dict())
        assert not numpy.allclose(unclipped(x).detach().numpy(), y)


def test_reverse_padded_is_a_per_row_involution():
    x = torch.arange(12.0).reshape(2, 6, 1)
    lengths = torch.tensor([4, 6])
    r = reverse_padded(x, lengths)
    assert r[0, :, 0].tolist() == [3, 2, 1, 0, 4, 5]
    assert r[1, :, 0].tolist() == [11, 10, 9, 8, 7, 6]
    assert torch.equal(reverse_padded(r, lengths), x)


def test_bilstm_rows_do_not_see_padding_or_each_other():
    lstm = ElmoLstm(4, 3, 5, 2, cell_clip=3.0, proj_clip=3.0)
    x = torch.randn(3, 6, 4)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6).unsqueeze(0) < lengths.unsqueeze(1)
    x = x * mask.unsqueeze(-1)
    together = lstm(x, mask)
    for row, n in enumerate(lengths.tolist()):
        alone = lstm(x[row : row + 1, :n], mask[row : row + 1, :n])
        for a, b in zip(together, alone):
            torch.testing.assert_close(a[row, :n], b[0], atol=1e-6, rtol=0)
            assert not a[row, n:].any()  # padding positions are zero


def test_backward_direction_reads_the_sequence_reversed():
    lstm = ElmoLstm(4, 3, 5, 1)
    x = torch.randn(1, 5, 4)
    mask = torch.ones(1, 5, dtype=torch.bool)
    out = lstm(x, mask)[0]
    backward_by_hand = lstm.backward_layers[0](x.flip(1)).flip(1)
    torch.testing.assert_close(out[..., 3:], backward_by_hand, atol=1e-6, rtol=0)
    torch.testing.assert_close(
        out[..., :3], lstm.forward_layers[0](x), atol=1e-6, rtol=0
    )


def test_skip_connections_add_the_layer_input():
    lstm = ElmoLstm(3, 3, 4, 2)
    x = torch.randn(1, 4, 3)
    mask = torch.ones(1, 4, dtype=torch.bool)
    first, second = lstm(x, mask)
    forward_in = first[..., :3]
    expected = lstm.forward_layers[1](forward_in) + forward_in
    torch.testing.assert_close(second[..., :3], expected, atol=1e-6, rtol=0)


def test_scalar_mix_formula():
    mix = ScalarMix(3, initial_weights=[0.0, 1.0, 2.0])
    with torch.no_grad():
        mix.gamma.fill_(0.5)
    layers = [torch.full((1, 2, 2), float(k + 1)) for k in range(3)]
    w = numpy.exp([0.0, 1.0, 2.0])
    w /= w.sum()
    expected = 0.5 * (w[0] * 1 + w[1] * 2 + w[2] * 3)
    assert mix(layers)[0, 0, 0].item() == pytest.approx(expected, abs=1e-6)


def test_scalar_mix_layer_norm_uses_only_unmasked_positions():
    mix = ScalarMix(2, layer_norm=True)
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    out = mix([a, b], mask).detach().numpy()
    ref = numpy.zeros_like(out, dtype=numpy.float64)
    m = mask.numpy()
    for t in (a, b):
        values = t.numpy().astype(numpy.float64)
        mean, var = values[m].mean(), values[m].var()
        ref += 0.5 * (values - mean) / numpy.sqrt(var + 1e-13)
    numpy.testing.assert_allclose(out, ref, atol=1e-5)
    with pytest.raises(ValueError, match="mask"):
        mix([a, b])


def test_char_encoder_dedup_and_column_trim_do_not_change_vectors():
    bilm = ElmoBiLm(tiny_options(filters=[(1, 4), (2, 4), (5, 8)]))
    enc = bilm.token_embedder
    sentences = [["the", "cat", "the"], ["x" * 60], ["a"], []]
    ids = torch.from_numpy(batch_to_char_ids(sentences))
    with torch.no_grad():
        vectors, mask = enc(ids)
        with_bounds, _ = enc.add_sentence_boundaries(ids)
        flat = with_bounds.reshape(-1, 50)
        # every token on its own, with all 50 character columns
        one_by_one = []
        for row in flat:
            chars = enc.char_embedding(row[None]).transpose(1, 2)
            pooled = [
                enc.activation(conv(chars).max(dim=-1)[0]) for conv in enc.convolutions
            ]
            one_by_one.append(enc.projection(enc.highway(torch.cat(pooled, -1)))[0])
        expected = torch.stack(one_by_one).reshape(vectors.shape)
    m = mask.unsqueeze(-1)
    torch.testing.assert_close(vectors * m, expected * m, atol=1e-6, rtol=0)
    assert mask.sum(dim=1).tolist() == [5, 3, 3, 2]


def test_bilm_handles_empty_single_and_long_tokens():
    bilm = ElmoBiLm(tiny_options())
    ids = torch.from_numpy(batch_to_char_ids([[], ["one"], ["x" * 200, "b"]]))
    layers, mask = bilm(ids)
    assert len(layers) == 3
    assert all(layer.shape == (3, 4, 12) for layer in layers)
    assert mask.sum(dim=1).tolist() == [2, 3, 4]
    assert all(torch.isfinite(layer).all() for layer in layers)
