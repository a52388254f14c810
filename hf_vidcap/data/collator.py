"""Batching for training and evaluation: rows of a feature (or video) dataset -> padded model inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from datasets import Dataset

from ..processing import VideoCaptioningProcessor


def explode_captions(dataset: Dataset, captions_column: str = "captions", caption_column: str = "caption") -> Dataset:
    """One row per (video, caption) pair: the usual way to train on corpora with many references per clip.

    Args:
        dataset (`datasets.Dataset`): rows with a list of reference captions in `captions_column`.
        captions_column (`str`, *optional*, defaults to `"captions"`): the column holding the list of captions.
        caption_column (`str`, *optional*, defaults to `"caption"`): the name of the single-caption column made.

    Returns:
        `datasets.Dataset`: the other columns repeated once per caption, plus `caption_column`.
    """

    def explode(batch: dict[str, list]) -> dict[str, list]:
        counts = [len(captions) for captions in batch[captions_column]]
        exploded = {name: [v for v, n in zip(values, counts) for _ in range(n)] for name, values in batch.items()}
        exploded[caption_column] = [caption for captions in batch[captions_column] for caption in captions]
        del exploded[captions_column]
        return exploded

    return dataset.map(explode, batched=True, remove_columns=dataset.column_names, desc="One row per caption")


@dataclass
class VideoCaptioningCollator:
    """Pads a list of dataset rows into model inputs with the processor.

    Rows carry either precomputed `video_features` (`[T, D]`, any length) or a `video_path`, and optionally a target
    caption; with a caption the batch gets `labels`.

    Args:
        processor ([`VideoCaptioningProcessor`]): the processor whose tokenizer matches the model's vocabulary.
        caption_column (`str`, *optional*, defaults to `"caption"`): the column of target captions.
        max_length (`int`, *optional*): longest `labels` row, `<eos>` included.
    """

    processor: VideoCaptioningProcessor
    caption_column: str = "caption"
    max_length: int | None = None

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        captions = [row[self.caption_column] for row in rows] if self.caption_column in rows[0] else None
        if "video_features" in rows[0]:
            videos = {"video_features": [row["video_features"] for row in rows]}
        else:
            videos = {"videos": [row["video_path"] for row in rows]}
        return self.processor(**videos, text=captions, max_length=self.max_length, return_tensors="pt")
