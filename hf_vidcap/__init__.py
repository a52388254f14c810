"""hf_vidcap: classic recurrent video captioning models as first-class transformers models.

Importing the package registers every architecture, the processor and its parts with transformers' Auto classes.
"""

import importlib

from .data.loader_utils import InvalidAnnotationError
from .modeling import (
    ARCHITECTURES,
    G2LConfig,
    G2LForVideoCaptioning,
    MeanPoolConfig,
    MeanPoolForVideoCaptioning,
    RecurrentState,
    S2VTConfig,
    S2VTForVideoCaptioning,
    SALSTMConfig,
    SALSTMForVideoCaptioning,
    VideoCaptioningConfig,
    VideoCaptioningOutput,
    VideoCaptioningPreTrainedModel,
    get_architecture,
    register_architecture,
)
from .processing import (
    InvalidVideoError,
    VideoCaptioningFeatureExtractor,
    VideoCaptioningProcessor,
    build_word_tokenizer,
    check_video,
    load_video,
    normalize_caption,
    register_processing_auto_classes,
)


register_processing_auto_classes()

__version__ = "0.1.0"

# Imported on first use (they pull in datasets, evaluate, matplotlib...), so that `import hf_vidcap` stays light and
# `hf_vidcap.visualization.caption_with_attention(...)` still works after it.
_LAZY_SUBMODULES = ("hub", "metrics", "training", "visualization")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ARCHITECTURES",
    "G2LConfig",
    "G2LForVideoCaptioning",
    "InvalidAnnotationError",
    "InvalidVideoError",
    "MeanPoolConfig",
    "MeanPoolForVideoCaptioning",
    "RecurrentState",
    "S2VTConfig",
    "S2VTForVideoCaptioning",
    "SALSTMConfig",
    "SALSTMForVideoCaptioning",
    "VideoCaptioningConfig",
    "VideoCaptioningFeatureExtractor",
    "VideoCaptioningOutput",
    "VideoCaptioningPreTrainedModel",
    "VideoCaptioningProcessor",
    "build_word_tokenizer",
    "check_video",
    "get_architecture",
    "load_video",
    "normalize_caption",
    "register_architecture",
]
