"""Tiny saved feature datasets and model sizes for the training and evaluation tests."""

from pathlib import Path

import numpy as np
import pytest
from datasets import Array2D, Dataset, DatasetDict, Features, List, Value


FEATURE_SIZE = 8
# An S2VT small enough that a training step takes milliseconds; dropout makes resuming depend on the random state.
TINY_S2VT = "hidden_size=16,frame_embedding_size=8,word_embedding_size=8,max_caption_length=6,dropout=0.1"
WORDS = ("a", "red", "blue", "circle", "square", "moves", "left", "right", "grows", "slowly")


def write_feature_dataset(path: Path, split_sizes: dict[str, int], feature_size: int = FEATURE_SIZE) -> DatasetDict:
    """A DatasetDict like `hf-vidcap extract-features` writes (video_id, captions, video_features of 3 to 5 frames),
    saved with `save_to_disk` into `path`."""
    rng = np.random.default_rng(0)
    features = Features(
        {
            "video_id": Value("string"),
            "captions": List(Value("string")),
            "video_features": Array2D(shape=(None, feature_size), dtype="float32"),
        }
    )
    splits = {}
    for split, size in split_sizes.items():
        rows = {
            "video_id": [f"{split}_{index}" for index in range(size)],
            "captions": [[" ".join(rng.choice(WORDS, 4)) for _ in range(3)] for _ in range(size)],
            "video_features": [
                rng.normal(size=(int(rng.integers(3, 6)), feature_size)).astype(np.float32) for _ in range(size)
            ],
        }
        splits[split] = Dataset.from_dict(rows, features=features)
    dataset = DatasetDict(splits)
    dataset.save_to_disk(path)
    return dataset


@pytest.fixture(scope="session")
def feature_dataset_dir(tmp_path_factory) -> Path:
    """12 training clips, 5 validation clips (an odd number, for the multi-process evaluation), 3 test clips."""
    path = tmp_path_factory.mktemp("features") / "dataset"
    write_feature_dataset(path, {"train": 12, "validation": 5, "test": 3})
    return path
