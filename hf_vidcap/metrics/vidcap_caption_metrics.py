"""
The coco-caption metrics of hf_vidcap as an `evaluate` module, loaded offline from its path.

`evaluate` copies this script into its cache and imports it on its own, so it imports `hf_vidcap.metrics` absolutely,
one import per line.
"""

import datasets
import evaluate

from hf_vidcap.metrics import compute_caption_metrics


_DESCRIPTION = """
The caption metrics of coco-caption: BLEU-1..4, METEOR, ROUGE-L and CIDEr-D, computed exactly as the reference
implementation pycocoevalcap computes them, for one predicted caption and several reference captions per clip.
BLEU, METEOR and ROUGE-L lie in [0, 1]; CIDEr-D is unscaled (about 1.1 for human captions of MSVD). METEOR runs the
METEOR 1.5 jar with Java and is None, with a warning, when Java or `pip install hf-vidcap[meteor]` is missing.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[str]`):
        One predicted caption per clip.
    references (`list[list[str]]`):
        The reference captions of each clip, at least one per clip.
    normalize (`bool`, *optional*, defaults to `True`):
        Whether to lower-case the captions and delete their punctuation first.
    meteor (`bool`, *optional*, defaults to `True`):
        Whether to compute METEOR (a few seconds to start Java); `False` reports it as None.
    meteor_timeout (`float`, *optional*, defaults to 120.0):
        Seconds to wait for each answer of the METEOR process.

Returns:
    `dict[str, float | None]`: The scores under the keys "Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L"
    and "CIDEr".

Example:

    >>> import evaluate
    >>> from hf_vidcap.metrics import EVALUATE_METRIC_PATH
    >>> caption_metrics = evaluate.load(EVALUATE_METRIC_PATH)
    >>> scores = caption_metrics.compute(
    ...     predictions=["a man plays a guitar"], references=[["a man is playing a guitar"]], meteor=False
    ... )
    >>> sorted(scores)
    ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'CIDEr', 'METEOR', 'ROUGE_L']
"""

_CITATION = """
@article{chen2015microsoft,
    title={Microsoft COCO Captions: Data Collection and Evaluation Server},
    author={Chen, Xinlei and Fang, Hao and Lin, Tsung-Yi and Vedantam, Ramakrishna and Gupta, Saurabh and Doll{\\'a}r,
        Piotr and Zitnick, C. Lawrence},
    journal={arXiv preprint arXiv:1504.00325},
    year={2015}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VidcapCaptionMetrics(evaluate.Metric):
    """The coco-caption metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D) of predicted captions against references."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Sequence(datasets.Value("string"))}
            ),
            reference_urls=["https://github.com/tylin/coco-caption", "https://github.com/salaniz/pycocoevalcap"],
        )

    def _compute(self, predictions: list[str], references: list[list[str]], **kwargs) -> dict[str, float | None]:
        """Computes the scores with [`compute_caption_metrics`], to which `kwargs` are passed."""
        return compute_caption_metrics(predictions, references, **kwargs)
