"""
CIDEr-D as coco-caption computes it (the `Cider` scorer of pycocoevalcap, Vedantam et al., 2015).

Each caption becomes, for every n-gram order from 1 to 4, a TF-IDF vector over its n-grams: term frequency times
log(number of clips / number of clips whose references contain the n-gram). The document frequencies come from the
references of the evaluated clips themselves, so a score depends on the whole evaluated set. For every order, the
prediction is compared with each reference by a cosine similarity, multiplied by a Gaussian penalty on the difference
of their lengths; the prediction's weights are clipped to the reference's in the dot product. Clipping and length
penalty are what CIDEr-D adds to CIDEr. A clip scores 10 times the mean over orders of the mean over references; the
corpus score is the mean over clips.
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .text import count_ngrams, validate_caption_inputs


@dataclass
class _TfIdfVectors:
    """The TF-IDF vectors of one caption, one per n-gram order, with their Euclidean norms and the caption length."""

    weights: list[dict[tuple[str, ...], float]]
    norms: list[float]
    # Number of words. coco-caption counts bigrams instead, which changes no score: the length penalty only matters
    # when both captions have words, and then the two counts differ by the same amount.
    length: int

    @classmethod
    def from_counts(
        cls, ngram_counts: Counter, max_order: int, document_frequency: Counter, log_num_clips: float
    ) -> "_TfIdfVectors":
        """Weights the n-gram counts of a caption (see [`count_ngrams`]) by their inverse document frequencies."""
        weights = [{} for _ in range(max_order)]
        for ngram, term_frequency in ngram_counts.items():
            # An n-gram absent from all references counts as occurring in one clip.
            idf = log_num_clips - math.log(max(1, document_frequency[ngram]))
            weights[len(ngram) - 1][ngram] = term_frequency * idf
        norms = [math.sqrt(sum(weight**2 for weight in order_weights.values())) for order_weights in weights]
        length = sum(count for ngram, count in ngram_counts.items() if len(ngram) == 1)
        return cls(weights=weights, norms=norms, length=length)


def _similarity(prediction: _TfIdfVectors, reference: _TfIdfVectors, sigma: float) -> float:
    """Mean over n-gram orders of the clipped cosine similarity, times the Gaussian length penalty."""
    length_penalty = math.exp(-((prediction.length - reference.length) ** 2) / (2 * sigma**2))
    cosines = []
    for prediction_weights, reference_weights, prediction_norm, reference_norm in zip(
        prediction.weights, reference.weights, prediction.norms, reference.norms
    ):
        if prediction_norm == 0 or reference_norm == 0:
            # All weights of one side are 0 (no n-gram, or only n-grams found in every clip): nothing in common.
            cosines.append(0.0)
            continue
        dot_product = sum(
            min(weight, reference_weights.get(ngram, 0.0)) * reference_weights.get(ngram, 0.0)
            for ngram, weight in prediction_weights.items()
        )
        cosines.append(dot_product / (prediction_norm * reference_norm))
    return length_penalty * sum(cosines) / len(cosines)


def cider_d(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    max_order: int = 4,
    sigma: float = 6.0,
) -> tuple[float, list[float]]:
    """
    Computes CIDEr-D exactly as coco-caption's `Cider` scorer does (reported unscaled, e.g. about 1.1 for human
    captions of MSVD).

    The document frequencies are computed from `references`, so the score of a clip depends on the other clips
    evaluated with it; with a single clip every n-gram has a zero weight and the score is 0. Captions are split on
    whitespace and compared as they are: normalize them first (see [`normalize_caption`]) for a coco-caption-style
    evaluation.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip.
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip (at least one per clip).
        max_order (`int`, *optional*, defaults to 4):
            The largest n-gram order.
        sigma (`float`, *optional*, defaults to 6.0):
            Standard deviation of the Gaussian penalty on the length difference between prediction and reference.

    Returns:
        `tuple[float, list[float]]`: The corpus score (mean over clips), at least 0, and the score of each clip, in the
        order of `predictions`.
    """
    validate_caption_inputs(predictions, references)
    reference_counts = [
        [count_ngrams(reference.split(), max_order) for reference in clip_references] for clip_references in references
    ]
    document_frequency = Counter(ngram for clip_counts in reference_counts for ngram in set().union(*clip_counts))
    log_num_clips = math.log(len(predictions))

    def vectors(ngram_counts: Counter) -> _TfIdfVectors:
        return _TfIdfVectors.from_counts(ngram_counts, max_order, document_frequency, log_num_clips)

    scores = []
    for prediction, clip_counts in zip(predictions, reference_counts):
        prediction_vectors = vectors(count_ngrams(prediction.split(), max_order))
        similarities = [_similarity(prediction_vectors, vectors(counts), sigma) for counts in clip_counts]
        scores.append(10.0 * sum(similarities) / len(similarities))
    return sum(scores) / len(scores), scores
