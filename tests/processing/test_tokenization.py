"""Tests of the word-level caption tokenizer and caption normalization."""

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from hf_vidcap.processing import build_word_tokenizer, normalize_caption


CORPUS = ["b a", "c a", "B d!", "e"]


def test_normalize_caption():
    assert normalize_caption("A Man's DOG,  running!") == "a mans dog running"
    assert normalize_caption("  Hot-dog\tstand: ‘yummy’ _tasty_ ") == "hot dog stand yummy tasty"
    assert normalize_caption("Ｃａｆé ２") == "café 2"  # NFKC folds full-width forms
    assert normalize_caption("...") == ""


def test_special_tokens_come_first():
    tokenizer = build_word_tokenizer(CORPUS)
    assert isinstance(tokenizer, PreTrainedTokenizerFast)
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token, tokenizer.unk_token) == (
        "<pad>",
        "<bos>",
        "<eos>",
        "<unk>",
    )
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (
        0,
        1,
        2,
        3,
    )


def test_vocabulary_sorted_by_frequency_then_alphabetically():
    # a: 2, b: 2, c: 1, d: 1, e: 1.
    vocab = build_word_tokenizer(CORPUS).get_vocab()
    assert vocab == {"<pad>": 0, "<bos>": 1, "<eos>": 2, "<unk>": 3, "a": 4, "b": 5, "c": 6, "d": 7, "e": 8}
    assert build_word_tokenizer(reversed(CORPUS)).get_vocab() == vocab


def test_min_count_and_max_vocab_size():
    tokenizer = build_word_tokenizer(CORPUS, min_count=2)
    assert sorted(tokenizer.get_vocab(), key=tokenizer.get_vocab().get)[4:] == ["a", "b"]
    assert tokenizer("a c z", add_special_tokens=False)["input_ids"] == [4, 3, 3]
    tokenizer = build_word_tokenizer(CORPUS, max_vocab_size=5)
    assert len(tokenizer) == 5 and tokenizer("a b", add_special_tokens=False)["input_ids"] == [4, 3]


@pytest.mark.parametrize("kwargs", [{"min_count": 0}, {"max_vocab_size": 3}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError):
        build_word_tokenizer(CORPUS, **kwargs)


def test_encode_normalizes_and_adds_bos_eos():
    tokenizer = build_word_tokenizer(CORPUS)
    assert tokenizer("B, A! zebra")["input_ids"] == [1, 5, 4, 3, 2]
    assert tokenizer("B, A! zebra", add_special_tokens=False)["input_ids"] == [5, 4, 3]
    assert tokenizer.decode([1, 5, 4, 2, 0], skip_special_tokens=True) == "b a"


def test_save_and_reload_with_auto_tokenizer(tmp_path):
    tokenizer = build_word_tokenizer(CORPUS, min_count=2)
    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded.get_vocab() == tokenizer.get_vocab()
    assert reloaded.all_special_tokens == tokenizer.all_special_tokens
    assert (reloaded.pad_token_id, reloaded.bos_token_id, reloaded.eos_token_id, reloaded.unk_token_id) == (0, 1, 2, 3)
    text = ["A, b c!", "B'a"]
    assert reloaded(text)["input_ids"] == tokenizer(text)["input_ids"] == [[1, 4, 5, 3, 2], [1, 3, 2]]


def test_captions_must_be_a_list_of_strings():
    with pytest.raises(ValueError, match="`captions` is one string: pass a list of captions"):
        build_word_tokenizer("a man plays")  # would otherwise be a vocabulary of letters
    with pytest.raises(ValueError, match=r"`captions\[0\]` is a NoneType, not a caption string"):
        build_word_tokenizer([None, "a man"])
    with pytest.raises(ValueError, match=r"`captions\[1\]` is a int"):
        build_word_tokenizer(("a man", 3))
