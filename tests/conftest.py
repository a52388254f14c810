"""Fixtures shared across the test folders."""

from pathlib import Path

import pytest

from hf_vidcap.data.synthetic import SyntheticVideoConfig, render_synthetic_dataset


# Small clips: 8 frames of 32x32, 4 captions each, so that rendering and decoding take well under a second.
TINY_CLIPS = SyntheticVideoConfig(num_frames=8, height=32, width=32, num_captions=4)


@pytest.fixture(scope="session")
def tiny_clips(tmp_path_factory) -> "datasets.DatasetDict":  # noqa: F821
    """A rendered synthetic dataset of 24 clips (16 train, 4 validation, 4 test) of real video files."""
    return render_synthetic_dataset(
        tmp_path_factory.mktemp("clips"), split_sizes=(16, 4, 4), seed=1, config=TINY_CLIPS
    )


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
