"""Fixtures for the processing tests: small real video files and a processor over a tiny caption corpus."""

import pytest

from hf_vidcap.processing import (
    VideoCaptioningFeatureExtractor,
    VideoCaptioningProcessor,
    register_processing_auto_classes,
)

from .video_factory import write_test_videos


CAPTIONS = [
    "A man is playing a guitar.",
    "A man plays the guitar!",
    "A woman is slicing an onion.",
    "The woman slices onions",
    "A dog runs in the park",
]


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    """Paths of the test videos by name (see `video_factory.write_test_videos`)."""
    return write_test_videos(tmp_path_factory.mktemp("videos"))


@pytest.fixture
def processor():
    """A registered processor sampling 8 frames of 16x16, with a vocabulary built from `CAPTIONS`."""
    register_processing_auto_classes()
    feature_extractor = VideoCaptioningFeatureExtractor(num_frames=8, size={"height": 16, "width": 16})
    return VideoCaptioningProcessor.from_captions(CAPTIONS, feature_extractor=feature_extractor)
