"""options.json + weights.hdf5 in allennlp's layout: reading, writing, bad files."""

import json

import h5py
import numpy
import pytest
import torch
from elmo_reference import reference_layers

from spacy_kd.elmo.char_ids import batch_to_char_ids
from spacy_kd.elmo.file_format import (
    expected_shapes,
    load_bilm,
    load_bilm_dir,
    save_bilm,
)
from spacy_kd.elmo.options import ElmoOptions
from spacy_kd.elmo.pytorch.bilm import ElmoBiLm
from spacy_kd.errors import DataError

OPTIONS = {
    "lstm": {
        "dim": 10,
        "projection_dim": 6,
        "n_layers": 2,
        "cell_clip": 3,
        "proj_clip": 3,
        "use_skip_connections": True,
    },
    "char_cnn": {
        "activation": "relu",
        "embedding": {"dim": 4},
        "filters": [[1, 4], [2, 4], [3, 8]],
        "n_highway": 2,
        "max_characters_per_token": 50,
        "n_characters": 262,
    },
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_random_files(folder, seed=0, scale=0.5, options=OPTIONS):
    """A weights file written with h5py alone (bilm-tf's layout), random values."""
    rng = numpy.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "options.json").write_text(json.dumps(options))
    shapes = expected_shapes(ElmoOptions.from_dict(options))
    with h5py.File(folder / "weights.hdf5", "w") as f:
        for name, shape in shapes.items():
            f[name] = (rng.standard_normal(shape) * scale).astype("float32")
    return folder / "options.json", folder / "weights.hdf5"


def read_all(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[...])
                if isinstance(obj, h5py.Dataset)
                else None
            )
        )
    return out


def test_loaded_bilm_matches_independent_float64_reference(tmp_path):
    options_path, weights_path = write_random_files(tmp_path)
    bilm = load_bilm(options_path, weights_path)
    arrays = read_all(weights_path)
    sentences = [
        ["the", "cat", "sat"],
        ["a"],
        ["naïve", "x" * 70, "", "end", "of", "it"],
    ]
    with torch.no_grad():
        layers, mask = bilm(torch.from_numpy(batch_to_char_ids(sentences)))
    assert not any(p.requires_grad for p in bilm.parameters())
    for row, tokens in enumerate(sentences):
        ref = reference_layers(tokens, arrays, OPTIONS)
        n = len(tokens) + 2
        assert mask[row].sum().item() == n
        for k in range(3):
            numpy.testing.assert_allclose(layers[k][row, :n].numpy(), ref[k], atol=2e-5)


def test_write_then_read_is_bit_identical(tmp_path):
    bilm = ElmoBiLm(ElmoOptions.from_dict(OPTIONS))
    with torch.no_grad():
        for p in bilm.parameters():
            p.normal_()
        bilm.token_embedder.char_embedding.weight[0].zero_()
    save_bilm(bilm, tmp_path / "out")
    again = load_bilm_dir(tmp_path / "out", requires_grad=True)
    before, after = bilm.state_dict(), again.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    assert all(p.requires_grad for p in again.parameters())
    # and file -> module -> file gives the same datasets, bit for bit
    save_bilm(again, tmp_path / "again")
    first, second = (
        read_all(tmp_path / "out" / "weights.hdf5"),
        read_all(tmp_path / "again" / "weights.hdf5"),
    )
    assert first.keys() == second.keys()
    for name in first:
        assert numpy.array_equal(first[name], second[name]), name


def test_written_layout_is_allennlps(tmp_path):
    options = ElmoOptions.from_dict(OPTIONS)
    save_bilm(ElmoBiLm(options), tmp_path)
    arrays = read_all(tmp_path / "weights.hdf5")
    assert {k: v.shape for k, v in arrays.items()} == expected_shapes(options)
    assert arrays["char_embed"].shape == (261, 4)  # no padding row in the file
    assert arrays["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"].shape == (12, 40)
    assert all(v.dtype == numpy.float32 for v in arrays.values())
    written = json.loads((tmp_path / "options.json").read_text())
    assert written["lstm"] == OPTIONS["lstm"] | {"cell_clip": 3.0, "proj_clip": 3.0}
    assert written["char_cnn"] == OPTIONS["char_cnn"]


def test_unknown_option_keys_are_kept(tmp_path):
    data = json.loads(json.dumps(OPTIONS))
    data["n_tokens_vocab"] = 793471
    data["lstm"]["custom"] = "kept"
    options = ElmoOptions.from_dict(data)
    assert options.to_dict()["n_tokens_vocab"] == 793471
    assert options.to_dict()["lstm"]["custom"] == "kept"


def test_zero_clip_means_no_clip():
    data = json.loads(json.dumps(OPTIONS))
    data["lstm"]["cell_clip"] = 0
    data["lstm"]["proj_clip"] = None
    options = ElmoOptions.from_dict(data)
    assert options.cell_clip is None and options.proj_clip is None


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda o: o["lstm"].pop("cell_clip"), "missing the key 'lstm.cell_clip'"),
        (lambda o: o.pop("char_cnn"), "missing the section 'char_cnn'"),
        (lambda o: o["char_cnn"]["embedding"].pop("dim"), "'char_cnn.embedding.dim'"),
        (
            lambda o: o["lstm"].__setitem__("dim", "big"),
            "'lstm.dim' has the wrong type",
        ),
        (lambda o: o["char_cnn"].__setitem__("filters", [[1]]), "'char_cnn.filters'"),
        (
            lambda o: o["char_cnn"].__setitem__("activation", "gelu"),
            "'char_cnn.activation'",
        ),
    ],
)
def test_bad_options_name_the_file_and_key(tmp_path, edit, message):
    data = json.loads(json.dumps(OPTIONS))
    edit(data)
    path = tmp_path / "options.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=message) as err:
        ElmoOptions.from_file(path)
    assert str(err.value).startswith(str(path))


def test_options_file_not_json(tmp_path):
    path = tmp_path / "options.json"
    path.write_text("{not json")
    with pytest.raises(DataError, match="not a valid JSON options file"):
        ElmoOptions.from_file(path)
    with pytest.raises(DataError, match="options file not found"):
        ElmoOptions.from_file(tmp_path / "missing.json")


def test_missing_dataset_names_file_and_dataset(tmp_path):
    options_path, weights_path = write_random_files(tmp_path)
    with h5py.File(weights_path, "r+") as f:
        del f["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0"]
    with pytest.raises(DataError) as err:
        load_bilm(options_path, weights_path)
    assert str(err.value) == (
        f"{weights_path}: missing dataset 'RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_P_0'"
    )


def test_shapes_that_do_not_match_the_options(tmp_path):
    _, weights_path = write_random_files(tmp_path)
    bigger = json.loads(json.dumps(OPTIONS))
    bigger["lstm"]["dim"] = 12
    options_path = tmp_path / "bigger.json"
    options_path.write_text(json.dumps(bigger))
    with pytest.raises(
        DataError,
        match=(
            r"dataset 'RNN_0/.*/W_0' has shape \(12, 40\), "
            r"but the options ask for \(12, 48\)"
        ),
    ):
        load_bilm(options_path, weights_path)


def test_not_an_hdf5_file(tmp_path):
    options_path, weights_path = write_random_files(tmp_path)
    weights_path.write_bytes(b"definitely not hdf5")
    with pytest.raises(DataError, match="not a readable HDF5 weights file"):
        load_bilm(options_path, weights_path)
    with pytest.raises(DataError, match="weights file not found"):
        load_bilm(options_path, tmp_path / "nope.hdf5")
