"""Datasets and batching: loaders (MSVD, MSR-VTT, a folder of videos, any of them by path), the synthetic clip
renderer, frame feature extraction into Arrow, and the collator."""

from .collator import VideoCaptioningCollator, explode_captions
from .features import (
    VideoFeaturesInfo,
    extract_video_features,
    extract_video_features_to_disk,
    load_clip_encoder,
    load_frame_encoder,
    video_feature_statistics,
)
from .loader_utils import MISSING_VIDEOS_OPTIONS, InvalidAnnotationError
from .loaders import DATASET_FORMATS, detect_dataset_format, load_captioning_dataset
from .msrvtt import load_msrvtt
from .msvd import load_msvd
from .synthetic import SyntheticClipSpec, SyntheticVideoConfig, render_synthetic_dataset
from .video_folder import load_video_folder


__all__ = [
    "DATASET_FORMATS",
    "InvalidAnnotationError",
    "MISSING_VIDEOS_OPTIONS",
    "SyntheticClipSpec",
    "SyntheticVideoConfig",
    "VideoCaptioningCollator",
    "VideoFeaturesInfo",
    "detect_dataset_format",
    "explode_captions",
    "extract_video_features",
    "extract_video_features_to_disk",
    "load_captioning_dataset",
    "load_clip_encoder",
    "load_frame_encoder",
    "load_msrvtt",
    "load_msvd",
    "load_video_folder",
    "render_synthetic_dataset",
    "video_feature_statistics",
]
