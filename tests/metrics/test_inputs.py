"""Caption normalization, n-gram counting and validation of the inputs of every metric."""

import pytest

from hf_vidcap.metrics import (
    bleu,
    cider_d,
    compute_caption_metrics,
    count_ngrams,
    meteor,
    normalize_caption,
    rouge_l,
)


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("A man is playing a GUITAR.", "a man is playing a guitar"),
        ("A man's guitar-playing!", "a mans guitar playing"),
        ("  two\tdogs\n run  ", "two dogs run"),
        ("snake_case and 3 dogs", "snake case and 3 dogs"),
        ("Un café, «noir».", "un café noir"),
        ("a ||| b", "a b"),
        ("...", ""),
        ("", ""),
    ],
)
def test_normalize_caption(caption, expected):
    assert normalize_caption(caption) == expected


@pytest.mark.parametrize(
    "caption", ["A man’s high-five!", "ﬁne  CAFÉ_au-lait", "it's 3 o'clock; go", "Ünïcödé «quotes» & more"]
)
def test_metric_normalization_is_the_tokenizer_normalization(caption):
    """Generated captions come out of the tokenizer; references must be normalized the same way to meet them."""
    from hf_vidcap.processing import normalize_caption as tokenizer_normalization

    assert normalize_caption(caption) == tokenizer_normalization(caption)


def test_count_ngrams():
    assert count_ngrams(["a", "b", "a", "b"], max_order=3) == {
        ("a",): 2,
        ("b",): 2,
        ("a", "b"): 2,
        ("b", "a"): 1,
        ("a", "b", "a"): 1,
        ("b", "a", "b"): 1,
    }
    assert count_ngrams([], max_order=4) == {}


def compute_without_meteor(predictions, references):
    return compute_caption_metrics(predictions, references, meteor=False)


@pytest.mark.parametrize("metric", [bleu, rouge_l, cider_d, meteor, compute_without_meteor])
@pytest.mark.parametrize(
    ("predictions", "references", "message"),
    [
        (["a cat", "a dog"], [["a cat"]], "got 2 predictions and 1 reference lists"),
        ([], [], "at least one clip"),
        ("a cat", [["a cat"]], "`predictions` must be a list of strings, got str"),
        (["a cat"], "a cat", "`references` must be a list of lists of strings, got str"),
        (["a cat", None], [["a cat"], ["a dog"]], r"`predictions\[1\]` must be a string, got NoneType"),
        (["a cat", "a dog"], [["a cat"], "a dog"], r"`references\[1\]` must be a list of reference captions, got str"),
        (["a cat", "a dog"], [["a cat"], []], r"`references\[1\]` is empty"),
        (["a cat", "a dog"], [["a cat"], ["a dog", 3]], r"`references\[1\]\[1\]` must be a string, got int"),
    ],
)
def test_invalid_inputs_raise_value_error_naming_the_culprit(metric, predictions, references, message):
    with pytest.raises(ValueError, match=message):
        metric(predictions, references)


def test_tuples_are_accepted():
    assert rouge_l(("a cat",), (("a cat",),)) == (1.0, [1.0])
