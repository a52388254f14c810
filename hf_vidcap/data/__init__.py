"""Datasets and batching: the synthetic clip renderer, frame feature extraction into Arrow, and the collator."""

from .collator import VideoCaptioningCollator, explode_captions
from .features import extract_video_features, video_feature_statistics
from .synthetic import SyntheticClipSpec, SyntheticVideoConfig, render_synthetic_dataset


__all__ = [
    "SyntheticClipSpec",
    "SyntheticVideoConfig",
    "VideoCaptioningCollator",
    "explode_captions",
    "extract_video_features",
    "render_synthetic_dataset",
    "video_feature_statistics",
]
