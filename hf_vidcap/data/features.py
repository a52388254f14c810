"""Frame feature extraction over a dataset of videos, into Arrow, with a transformers vision backbone."""

from __future__ import annotations

import torch
from datasets import Array2D, Dataset, Features

from ..modeling.layers import FrameFeatureEncoder
from ..processing import VideoCaptioningProcessor


def extract_video_features(
    dataset: Dataset,
    encoder: FrameFeatureEncoder,
    processor: VideoCaptioningProcessor,
    batch_size: int = 8,
    video_column: str = "video_path",
    dtype: str = "float32",
) -> Dataset:
    """Add a `video_features` column (`[T, D]` per video, padding frames dropped) computed from each video file.

    Args:
        dataset (`datasets.Dataset`): rows with a video file path in `video_column`.
        encoder ([`FrameFeatureEncoder`]): the frame encoder, e.g. `model.vision_model` of a captioner built with a
            `vision_config`, so that features match what the captioner computes from pixels.
        processor ([`VideoCaptioningProcessor`]): decodes and preprocesses the videos.
        batch_size (`int`, *optional*, defaults to 8): videos per batch.
        video_column (`str`, *optional*, defaults to `"video_path"`): the column of video paths.
        dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` storage.

    Returns:
        `datasets.Dataset`: the input columns plus `video_features`.
    """
    features = Features(
        {**dataset.features, "video_features": Array2D(shape=(None, encoder.output_size), dtype=dtype)}
    )
    torch_dtype = getattr(torch, dtype)

    @torch.inference_mode()
    def encode(batch: dict[str, list]) -> dict[str, list]:
        inputs = processor(videos=batch[video_column], return_tensors="pt")
        mask = inputs["video_attention_mask"]
        encoded = encoder(inputs["pixel_values_videos"], mask).to(torch_dtype)
        return {**batch, "video_features": [video[: int(n)].numpy() for video, n in zip(encoded, mask.sum(1))]}

    return dataset.map(
        encode, batched=True, batch_size=batch_size, features=features, desc="Extracting frame features"
    )


__all__ = ["extract_video_features"]


def video_feature_statistics(
    dataset: Dataset, column: str = "video_features", batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation of every frame of a feature dataset, read in batches so memory stays
    flat with dataset size (for models built with `standardize_video_features=True`).

    Args:
        dataset (`datasets.Dataset`): rows with `[T, D]` frame features in `column`.
        column (`str`, *optional*, defaults to `"video_features"`): the feature column.
        batch_size (`int`, *optional*, defaults to 256): rows read at once.

    Returns:
        `tuple(torch.Tensor, torch.Tensor)`: mean and standard deviation, each of shape `(D,)`, float32.
    """
    total = squares = None
    count = 0
    for batch in dataset.select_columns([column]).with_format("torch").iter(batch_size=batch_size):
        frames = torch.cat([video.reshape(-1, video.shape[-1]) for video in batch[column]]).double()
        total = frames.sum(0) if total is None else total + frames.sum(0)
        squares = (frames**2).sum(0) if squares is None else squares + (frames**2).sum(0)
        count += frames.shape[0]
    if count == 0:
        raise ValueError(f"The dataset has no frames in column {column!r}.")
    mean = total / count
    std = (squares / count - mean**2).clamp(min=0).sqrt()
    return mean.float(), std.float()
