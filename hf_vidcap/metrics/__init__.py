"""
Caption metrics of coco-caption (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D), with the exact numbers of the reference
implementation pycocoevalcap.

BLEU, ROUGE-L and CIDEr-D are implemented in Python; METEOR runs the reference METEOR 1.5 jar with Java (optional:
`pip install hf-vidcap[meteor]` and a Java runtime). [`compute_caption_metrics`] computes them all; the same metric is
available as an `evaluate` module that loads offline:

```python
>>> import evaluate
>>> from hf_vidcap.metrics import EVALUATE_METRIC_PATH

>>> caption_metrics = evaluate.load(EVALUATE_METRIC_PATH)
>>> scores = caption_metrics.compute(predictions=["a man plays a guitar"], references=[["a man is playing guitar"]])

```
"""

from pathlib import Path

from ..processing.tokenization import normalize_caption
from .bleu_metric import bleu
from .caption_metrics import METRIC_NAMES, compute_caption_metrics
from .cider_metric import cider_d
from .meteor_metric import MeteorUnavailableError, find_meteor_jar, meteor
from .rouge_metric import rouge_l
from .text import count_ngrams, validate_caption_inputs


# The script of the `evaluate` module of these metrics: `evaluate.load(EVALUATE_METRIC_PATH)` loads it offline.
EVALUATE_METRIC_PATH = str(Path(__file__).with_name("vidcap_caption_metrics.py"))

__all__ = [
    "EVALUATE_METRIC_PATH",
    "METRIC_NAMES",
    "MeteorUnavailableError",
    "bleu",
    "cider_d",
    "compute_caption_metrics",
    "count_ngrams",
    "find_meteor_jar",
    "meteor",
    "normalize_caption",
    "rouge_l",
    "validate_caption_inputs",
]
