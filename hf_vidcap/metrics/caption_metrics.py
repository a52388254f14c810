"""
The coco-caption metric suite in one call: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D, under coco-caption's names.
"""

import warnings
from collections.abc import Sequence

from ..processing.tokenization import normalize_caption
from . import meteor_metric
from .bleu_metric import bleu
from .cider_metric import cider_d
from .rouge_metric import rouge_l
from .text import validate_caption_inputs


METRIC_NAMES = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")


def compute_caption_metrics(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    normalize: bool = True,
    meteor: bool = True,
    meteor_timeout: float = 120.0,
) -> dict[str, float | None]:
    """
    Computes the coco-caption metrics of predicted captions against reference captions, with the exact numbers of the
    reference implementation (pycocoevalcap) on the same words.

    The words are those of the normalized captions (lower case, punctuation removed), which is how MSVD and MSR-VTT
    captions are distributed and what the models generate. On raw captions coco-caption's PTB tokenizer splits
    contractions and possessives (`does n't`, `man 's`) where normalization joins them (`doesnt`, `mans`), so scores of
    captions with apostrophes differ from a PTB-tokenized evaluation.

    METEOR runs the reference Java implementation and needs a Java runtime and `pip install hf-vidcap[meteor]`; when
    either is missing, METEOR is `None` and a `UserWarning` explains how to get it.

    Args:
        predictions (`Sequence[str]`):
            One predicted caption per clip (an empty string is a valid, if poor, prediction).
        references (`Sequence[Sequence[str]]`):
            The reference captions of each clip, at least one per clip, in the order of `predictions`.
        normalize (`bool`, *optional*, defaults to `True`):
            Whether to normalize the captions first as the word-level tokenizer does (see [`normalize_caption`]).
            Without it, captions are only split on whitespace.
        meteor (`bool`, *optional*, defaults to `True`):
            Whether to compute METEOR, which takes a few seconds to start Java; `False` reports it as `None`.
        meteor_timeout (`float`, *optional*, defaults to 120.0):
            Seconds to wait for each answer of the METEOR process before stopping it with a `TimeoutError`.

    Returns:
        `dict[str, float | None]`: The scores under the keys `"Bleu_1"`, `"Bleu_2"`, `"Bleu_3"`, `"Bleu_4"`,
        `"METEOR"`, `"ROUGE_L"` and `"CIDEr"`, on coco-caption's scales: BLEU, METEOR and ROUGE-L in [0, 1], CIDEr-D
        unscaled (about 1.1 for human captions of MSVD).

    Raises:
        `ValueError`: If the inputs are malformed; the message names the offending argument and index.

    Example:

    ```python
    >>> from hf_vidcap.metrics import compute_caption_metrics

    >>> scores = compute_caption_metrics(
    ...     predictions=["A man is playing a guitar."],
    ...     references=[["a man plays the guitar", "someone is playing a guitar"]],
    ...     meteor=False,
    ... )
    >>> round(scores["ROUGE_L"], 3)
    0.739

    ```
    """
    validate_caption_inputs(predictions, references)
    if normalize:
        predictions = [normalize_caption(prediction) for prediction in predictions]
        references = [
            [normalize_caption(reference) for reference in clip_references] for clip_references in references
        ]

    bleu_scores, _ = bleu(predictions, references)
    scores = {f"Bleu_{order}": score for order, score in enumerate(bleu_scores, start=1)}
    scores["METEOR"] = None
    if meteor:
        try:
            scores["METEOR"], _ = meteor_metric.meteor(predictions, references, timeout=meteor_timeout)
        except meteor_metric.MeteorUnavailableError as error:
            warnings.warn(f"METEOR is reported as None: {error}", UserWarning, stacklevel=2)
    scores["ROUGE_L"], _ = rouge_l(predictions, references)
    scores["CIDEr"], _ = cider_d(predictions, references)
    return scores
