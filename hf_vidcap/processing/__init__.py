"""The processing half of hf_vidcap: video decoding, frame preprocessing, word-level tokenizer and processor.

The modules of this folder import each other only with flat relative imports, so that `register_for_auto_class()`
can copy them next to a saved processor and `AutoProcessor.from_pretrained(..., trust_remote_code=True)` loads it
without hf_vidcap installed.
"""

from transformers import AutoFeatureExtractor, AutoProcessor

from .feature_extraction import VideoCaptioningFeatureExtractor
from .processing import VideoCaptioningProcessor
from .tokenization import SPECIAL_TOKENS, build_word_tokenizer, extend_word_tokenizer, normalize_caption
from .video_io import InvalidVideoError, check_video, load_video, sample_frames


# The key the processing classes are registered under in the Auto mappings. Processors and feature extractors are
# looked up by the class name saved in their config, so this key only has to be unique; it is not a config model type.
PROCESSING_MODEL_TYPE = "vidcap"


def register_processing_auto_classes() -> None:
    """
    Registers the processing classes with the Auto classes; calling it again does nothing more.

    `AutoFeatureExtractor` and `AutoProcessor` then load saved processors by class name, and `save_pretrained` copies
    the code files next to the saved files and writes their `auto_map`, for loading with `trust_remote_code=True`.
    """
    AutoFeatureExtractor.register(PROCESSING_MODEL_TYPE, VideoCaptioningFeatureExtractor, exist_ok=True)
    AutoProcessor.register(PROCESSING_MODEL_TYPE, VideoCaptioningProcessor, exist_ok=True)
    VideoCaptioningFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")
    VideoCaptioningProcessor.register_for_auto_class("AutoProcessor")


__all__ = [
    "PROCESSING_MODEL_TYPE",
    "SPECIAL_TOKENS",
    "InvalidVideoError",
    "VideoCaptioningFeatureExtractor",
    "VideoCaptioningProcessor",
    "build_word_tokenizer",
    "check_video",
    "extend_word_tokenizer",
    "load_video",
    "normalize_caption",
    "register_processing_auto_classes",
    "sample_frames",
]
