"""
BLEU-1..4 as coco-caption computes it (the `Bleu` scorer of pycocoevalcap, after Papineni et al., 2002).

The corpus score pools the clipped n-gram matches, the n-gram counts and the lengths of all clips before taking the
geometric mean of the precisions, so it is not the mean of the per-clip scores. The brevity penalty compares the length
of each prediction with the length of its closest reference (the shorter one on ties). As in coco-caption, a tiny
constant is added to every numerator and a small one to every denominator, which keeps all scores finite without
smoothing them noticeably.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .text import count_ngrams, validate_caption_inputs


# The constants of coco-caption: `_TINY` is added to the numerators (a precision without any match stays essentially
# 0), `_SMALL` to the denominators (no division by zero for a prediction shorter than the n-gram order).
_TINY = 1e-15
_SMALL = 1e-9


@dataclass
class _BleuStatistics:
    """The sufficient statistics of BLEU, for one clip or, summed, for a corpus."""

    matches: list[int]  # per n-gram order, prediction n-grams also in a reference (clipped counts)
    candidates: list[int]  # per n-gram order, n-grams of the prediction
    prediction_length: int
    reference_length: int  # length of the reference closest in length to the prediction

    def __add__(self, other: "_BleuStatistics") -> "_BleuStatistics":
        return _BleuStatistics(
            matches=[mine + theirs for mine, theirs in zip(self.matches, other.matches)],
            candidates=[mine + theirs for mine, theirs in zip(self.candidates, other.candidates)],
            prediction_length=self.prediction_length + other.prediction_length,
            reference_length=self.reference_length + other.reference_length,
        )

    def scores(self) -> list[float]:
        """BLEU-1 to BLEU-n: geometric means of the first n precisions, times the brevity penalty."""
        scores = []
        precision_product = 1.0
        for order, (matches, candidates) in enumerate(zip(self.matches, self.candidates), start=1):
            precision_product *= (matches + _TINY) / (candidates + _SMALL)
            scores.append(precision_product ** (1 / order))
        length_ratio = (self.prediction_length + _TINY) / (self.reference_length + _SMALL)
        if length_ratio < 1:
            brevity_penalty = math.exp(1 - 1 / length_ratio)
            scores = [score * brevity_penalty for score in scores]
        return scores


def _clip_statistics(prediction: str, references: Sequence[str], max_order: int) -> _BleuStatistics:
    """Counts the BLEU statistics of one prediction against the references of its clip."""
    prediction_tokens = prediction.split()
    reference_tokens = [reference.split() for reference in references]

    # A prediction n-gram matches at most as many times as it occurs in a single reference.
    max_reference_counts = Counter()
    for tokens in reference_tokens:
        max_reference_counts |= count_ngrams(tokens, max_order)
    clipped_counts = count_ngrams(prediction_tokens, max_order) & max_reference_counts
    matches = [0] * max_order
    for ngram, count in clipped_counts.items():
        matches[len(ngram) - 1] += count

    prediction_length = len(prediction_tokens)
    closest_reference_length = min(
        (len(tokens) for tokens in reference_tokens), key=lambda length: (abs(length - prediction_length), length)
    )
    return _BleuStatistics(
        matches=matches,
        candidates=[max(0, prediction_length - order + 1) for order in range(1, max_order + 1)],
        prediction_length=prediction_length,
        reference_length=closest_reference_length,
    )


def bleu(
    predictions: Sequence[str], references: Sequence[Sequence[str]], max_order: int = 4
) -> tuple[list[float], list[list[float]]]:
    """
    Computes BLEU-1 to BLEU-`max_order` exactly as coco-caption does (corpus-level, "closest" reference length).

    Captions are split on whitespace and compared as they are: normalize them first (see [`normalize_caption`]) for a
    coco-caption-style evaluation.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip.
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip (at least one per clip).
        max_order (`int`, *optional*, defaults to 4):
            The largest n-gram order.

    Returns:
        `tuple[list[float], list[list[float]]]`: The corpus scores `[BLEU-1, ..., BLEU-max_order]`, in [0, 1], and the
        same scores for each clip alone, in the order of `predictions`.
    """
    validate_caption_inputs(predictions, references)
    clip_statistics = [
        _clip_statistics(prediction, clip_references, max_order)
        for prediction, clip_references in zip(predictions, references)
    ]
    corpus_statistics = sum(clip_statistics[1:], start=clip_statistics[0])
    return corpus_statistics.scores(), [statistics.scores() for statistics in clip_statistics]
