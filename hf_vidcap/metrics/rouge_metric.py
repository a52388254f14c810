"""
ROUGE-L as coco-caption computes it (the `Rouge` scorer of pycocoevalcap, after Lin, 2004).

For each clip, the longest common subsequence (LCS) of the prediction with every reference gives a precision
(LCS / prediction length) and a recall (LCS / reference length). The best precision and the best recall over the
references, possibly from different references, are combined into an F-measure weighted by `beta` (1.2, which favours
recall). The corpus score is the mean over clips.
"""

from collections.abc import Sequence

from .text import validate_caption_inputs


def _lcs_length(first: Sequence[str], second: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences (dynamic programming, one row at a time)."""
    previous_row = [0] * (len(second) + 1)
    for first_token in first:
        row = [0]
        for position, second_token in enumerate(second):
            if first_token == second_token:
                row.append(previous_row[position] + 1)
            else:
                row.append(max(previous_row[position + 1], row[position]))
        previous_row = row
    return previous_row[-1]


def _clip_rouge_l(prediction: str, references: Sequence[str], beta: float) -> float:
    """ROUGE-L of one prediction against the references of its clip."""
    prediction_tokens = prediction.split()
    best_precision = best_recall = 0.0
    for reference in references:
        reference_tokens = reference.split()
        lcs = _lcs_length(reference_tokens, prediction_tokens)
        if lcs:
            best_precision = max(best_precision, lcs / len(prediction_tokens))
            best_recall = max(best_recall, lcs / len(reference_tokens))
    if best_precision == 0 or best_recall == 0:
        return 0.0
    return (1 + beta**2) * best_precision * best_recall / (best_recall + beta**2 * best_precision)


def rouge_l(
    predictions: Sequence[str], references: Sequence[Sequence[str]], beta: float = 1.2
) -> tuple[float, list[float]]:
    """
    Computes ROUGE-L exactly as coco-caption does.

    Captions are split on whitespace and compared as they are: normalize them first (see [`normalize_caption`]) for a
    coco-caption-style evaluation.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip.
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip (at least one per clip).
        beta (`float`, *optional*, defaults to 1.2):
            Relative weight of recall with respect to precision in the F-measure.

    Returns:
        `tuple[float, list[float]]`: The corpus score (mean over clips), in [0, 1], and the score of each clip, in the
        order of `predictions`.
    """
    validate_caption_inputs(predictions, references)
    scores = [
        _clip_rouge_l(prediction, clip_references, beta)
        for prediction, clip_references in zip(predictions, references)
    ]
    return sum(scores) / len(scores), scores
