"""Batching for training and evaluation: rows of a feature (or video) dataset -> padded model inputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datasets import Dataset, Features, Value

from ..processing import VideoCaptioningProcessor
from .features import REOPEN_MEMORY_MAPS_AFTER_BYTES, reopen_memory_maps


def explode_captions(dataset: Dataset, captions_column: str = "captions", caption_column: str = "caption") -> Dataset:
    """One row per (video, caption) pair: the usual way to train on corpora with many references per clip.

    Only the small columns are copied per caption (the scalar ones, like `video_id` and `video_path`); the others
    (e.g. `video_features`) are read from `dataset` when rows are accessed, a batch at a time, as NumPy arrays. So
    exploding MSR-VTT's 20 captions per clip costs a few MB, not 20 copies of its features. The result keeps that
    lookup as a `datasets` transform: `shuffle`, `select` and DataLoaders keep it, but `with_format` or
    `set_transform` would replace it.

    Args:
        dataset (`datasets.Dataset`): rows with a list of reference captions in `captions_column`.
        captions_column (`str`, *optional*, defaults to `"captions"`): the column holding the list of captions.
        caption_column (`str`, *optional*, defaults to `"caption"`): the name of the single-caption column made.

    Returns:
        `datasets.Dataset`: rows with the other columns of `dataset`, once per caption, plus `caption_column`.
    """
    if captions_column not in dataset.column_names:
        raise ValueError(f"The dataset has no {captions_column!r} column (its columns: {dataset.column_names}).")
    copied = [name for name, feature in dataset.features.items() if isinstance(feature, Value)]
    small = dataset.select_columns([*copied, captions_column]).with_format(None)[:]
    counts = [len(captions) for captions in small[captions_column]]
    pairs = {name: [value for value, count in zip(small[name], counts) for _ in range(count)] for name in copied}
    pairs[caption_column] = [caption for captions in small[captions_column] for caption in captions]
    features = Features({**{name: dataset.features[name] for name in copied}, caption_column: Value("string")})
    looked_up = [name for name in dataset.column_names if name not in (*copied, captions_column)]
    if not looked_up:
        return Dataset.from_dict(pairs, features=features)
    pairs[_ROW_INDEX_COLUMN] = [row for row, count in enumerate(counts) for _ in range(count)]
    features[_ROW_INDEX_COLUMN] = Value("int64")
    return Dataset.from_dict(pairs, features=features).with_transform(_LookUpColumns(dataset, looked_up))


# The column of an exploded dataset that points to the row of the source dataset its looked-up columns come from.
_ROW_INDEX_COLUMN = "video_row"


class _LookUpColumns:
    """A `datasets` transform adding `columns` of the rows of `source` that a batch's `video_row` values point to.

    A memory-mapped `source` is read through memory maps of its own, opened again after every
    `REOPEN_MEMORY_MAPS_AFTER_BYTES` read (see [`reopen_memory_maps`]), so that resident memory stays flat over an
    epoch.
    """

    def __init__(self, source: Dataset, columns: list[str]) -> None:
        self.source = reopen_memory_maps(source.with_format("numpy", columns=columns))
        self.columns = columns
        self.bytes_read = 0

    def __call__(self, batch: dict[str, list]) -> dict[str, Any]:
        if self.bytes_read > REOPEN_MEMORY_MAPS_AFTER_BYTES:
            self.source, self.bytes_read = reopen_memory_maps(self.source), 0
        rows = self.source[batch[_ROW_INDEX_COLUMN]]
        looked_up = {name: list(rows[name]) for name in self.columns}
        self.bytes_read += sum(getattr(value, "nbytes", 0) for values in looked_up.values() for value in values)
        return {**batch, **looked_up}


@dataclass
class VideoCaptioningCollator:
    """Pads a list of dataset rows into model inputs with the processor.

    Rows carry either precomputed `video_features` (`[T, D]`, any length) or a `video_path`, and optionally a target
    caption; with a caption the batch gets `labels`.

    Args:
        processor ([`VideoCaptioningProcessor`]): the processor whose tokenizer matches the model's vocabulary.
        caption_column (`str`, *optional*, defaults to `"caption"`): the column of target captions.
        max_length (`int`, *optional*): longest `labels` row, `<eos>` included.
        feature_columns (`Sequence[str]`, *optional*): the precomputed inputs the model reads, `video_features` and
            the names of `model.video_streams()`. Other `*_features` columns (a G2L feature set given to S2VT) are
            left out: `generate()` refuses inputs the model does not read. Defaults to every `*_features` column.
    """

    processor: VideoCaptioningProcessor
    caption_column: str = "caption"
    max_length: int | None = None
    feature_columns: Sequence[str] | None = None

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        captions = [row[self.caption_column] for row in rows] if self.caption_column in rows[0] else None
        if "video_features" in rows[0]:
            # The frame features and any other precomputed stream a multi-stream model reads (e.g. `clip_features`).
            videos = {
                name: [row[name] for row in rows]
                for name in rows[0]
                if name.endswith("_features") and (self.feature_columns is None or name in self.feature_columns)
            }
        else:
            videos = {"videos": [row["video_path"] for row in rows]}
        return self.processor(**videos, text=captions, max_length=self.max_length, return_tensors="pt")
