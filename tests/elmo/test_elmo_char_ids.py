"""ELMo's character ids: allennlp's scheme, checked on known words by hand."""

import numpy

from spacy_kd.elmo.char_ids import (
    CharIdCache,
    batch_to_char_ids,
    bos_char_ids,
    char_ids_to_lengths,
    eos_char_ids,
    token_char_ids,
)

# (+1 shifted) begin of word, end of word, padding character
BOW, EOW, PAD = 259, 260, 261


def test_known_word():
    ids = token_char_ids("hello")
    # h e l l o = 104 101 108 108 111, each +1
    assert ids[:7] == (BOW, 105, 102, 109, 109, 112, EOW)
    assert ids[7:] == (PAD,) * 43
    assert len(ids) == 50


def test_multibyte_word_uses_utf8_bytes():
    # "é" is c3 a9 in UTF-8
    assert token_char_ids("é")[:4] == (BOW, 0xC3 + 1, 0xA9 + 1, EOW)
    assert token_char_ids("中")[:5] == (BOW, 0xE4 + 1, 0xB8 + 1, 0xAD + 1, EOW)


def test_sentence_boundaries():
    assert bos_char_ids()[:3] == (BOW, 257, EOW)
    assert eos_char_ids()[:3] == (BOW, 258, EOW)
    assert bos_char_ids()[3:] == (PAD,) * 47
    # the boundary strings map to the same ids, as in allennlp's mapper
    assert token_char_ids("<S>") == bos_char_ids()
    assert token_char_ids("</S>") == eos_char_ids()


def test_long_token_is_cut_to_48_bytes():
    ids = token_char_ids("a" * 200)
    assert ids == (BOW,) + (98,) * 48 + (EOW,)


def test_empty_token_and_lone_surrogate():
    assert token_char_ids("")[:3] == (BOW, EOW, PAD)
    # an unencodable surrogate is dropped, not an error
    assert token_char_ids("a\ud800b")[:4] == (BOW, 98, 99, EOW)


def test_batch_is_right_padded_with_zero_rows():
    batch = batch_to_char_ids([["a", "bc"], [], ["d"]])
    assert batch.shape == (3, 2, 50) and batch.dtype == numpy.int64
    assert batch[0, 1, :4].tolist() == [BOW, 99, 100, EOW]
    assert not batch[1].any() and not batch[2, 1].any()
    assert char_ids_to_lengths(batch) == [2, 0, 1]
    assert batch_to_char_ids([]).shape == (0, 0, 50)


def test_cache_gives_the_same_ids():
    cache = CharIdCache(max_size=2)
    words = ["x", "yy", "x", "zzz", "yy"]
    assert [cache(w) for w in words] == [token_char_ids(w) for w in words]
