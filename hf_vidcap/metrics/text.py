"""
Text handling shared by the caption metrics: n-gram counting and input validation.

The scorers of this package work on captions that are already tokenized, the way coco-caption expects them: a caption
is a string whose tokens are separated by whitespace. `hf_vidcap.processing.normalize_caption`, the
word-level tokenizer's own normalization, produces such strings from raw text, so references meet generated captions
on the same words.
"""

from collections import Counter
from collections.abc import Sequence


def count_ngrams(tokens: Sequence[str], max_order: int) -> Counter[tuple[str, ...]]:
    """
    Counts the n-grams of a token sequence, for every order n from 1 to `max_order`.

    Args:
        tokens (`Sequence[str]`):
            The tokens of one caption.
        max_order (`int`):
            The largest n-gram order to count.

    Returns:
        `Counter[tuple[str, ...]]`: The number of occurrences of each n-gram, n-grams being tuples of tokens.
    """
    return Counter(
        tuple(tokens[start : start + order])
        for order in range(1, max_order + 1)
        for start in range(len(tokens) - order + 1)
    )


def _check_list(value: object, name: str, expected: str) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"`{name}` must be {expected}, got {type(value).__name__}.")


def _check_string(value: object, name: str) -> None:
    if not isinstance(value, str):
        raise ValueError(f"`{name}` must be a string, got {type(value).__name__}.")


def validate_caption_inputs(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    """
    Checks that `predictions` and `references` describe the same non-empty set of clips: one predicted caption (a
    string, possibly empty) and at least one reference caption (strings) per clip.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip.
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip.

    Raises:
        `ValueError`: If the inputs are malformed; the message names the offending argument and index.
    """
    _check_list(predictions, "predictions", "a list of strings")
    _check_list(references, "references", "a list of lists of strings")
    if len(predictions) != len(references):
        raise ValueError(
            "`predictions` and `references` must have one entry per clip, got "
            f"{len(predictions)} predictions and {len(references)} reference lists."
        )
    if not predictions:
        raise ValueError("`predictions` and `references` are empty: at least one clip is needed.")
    for index, prediction in enumerate(predictions):
        _check_string(prediction, f"predictions[{index}]")
    for index, clip_references in enumerate(references):
        _check_list(clip_references, f"references[{index}]", "a list of reference captions")
        if not clip_references:
            raise ValueError(f"`references[{index}]` is empty: every clip needs at least one reference caption.")
        for reference_index, reference in enumerate(clip_references):
            _check_string(reference, f"references[{index}][{reference_index}]")
