"""Frame feature extraction over a dataset of videos, into Arrow, with a transformers vision backbone.

Two entry points:

- [`extract_video_features`] adds a `video_features` column to a `datasets.Dataset` (in memory or in the cache), for
  small datasets and tests;
- [`extract_video_features_to_disk`] is the one for real corpora (`hf-vidcap extract-features` runs it): it writes a
  `DatasetDict` with `save_to_disk` into an output folder, in chunks that are each written atomically, so that an
  interrupted run started again skips finished chunks; several processes (`num_shards` / `shard_index`, or the ranks
  of `torchrun` / `accelerate launch`) each take a share of the chunks and the chunks combine into one dataset in the
  original order; videos that cannot be read are left out and listed with the reason in `skipped_videos.jsonl`.

Besides the 2-D frame features, both write the extra streams a multi-stream captioner such as G2L reads, when asked:
`clip_features` (one 3-D feature per frame, from a transformers video model over a window around it, see
[`load_clip_encoder`]) and `region_features` (the cells of a grid over the frame backbone's spatial map, on one frame
in every `region_frame_stride`). Passing a captioner instead of a frame encoder extracts every stream it reads, with
its own backbones.

The output folder also holds what is needed to reproduce the features from a video file: the backbones
(`backbone/` and `clip_backbone/`, written with `save_pretrained`), the frame preprocessing
(`preprocessor_config.json`), the pooling and the region grid, summed up in `feature_extraction.json`
([`VideoFeaturesInfo.load`] reads it back).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pyarrow as pa
import torch
from datasets import Array2D, Array3D, Dataset, DatasetDict, Features, concatenate_datasets, load_from_disk
from datasets.arrow_writer import ArrowWriter
from torch.nn.utils.rnn import pad_sequence
from transformers import PreTrainedConfig
from transformers.utils import FEATURE_EXTRACTOR_NAME, logging

from ..modeling.base import VideoCaptioningPreTrainedModel
from ..modeling.layers import (
    ClipFeatureEncoder,
    FrameFeatureEncoder,
    VisionFeaturePooling,
    check_positive_int,
    load_pretrained_backbone,
    region_frame_indices,
    vision_feature_size,
)
from ..processing import InvalidVideoError, VideoCaptioningFeatureExtractor, VideoCaptioningProcessor


logger = logging.get_logger(__name__)

FEATURES_COLUMN = "video_features"
CLIP_FEATURES_COLUMN = "clip_features"
REGION_FEATURES_COLUMN = "region_features"
SETTINGS_FILE = "feature_extraction.json"
SKIPPED_VIDEOS_FILE = "skipped_videos.jsonl"
BACKBONE_DIR = "backbone"
CLIP_BACKBONE_DIR = "clip_backbone"
CHUNKS_DIR = "chunks"
FEATURE_DTYPES = ("float32", "float16")
CHUNK_DATA_FILE = "data.arrow"
CHUNK_SKIPPED_FILE = "skipped.json"
#: Bytes read through one memory map of a dataset's Arrow files before readers open it again (see
#: [`reopen_memory_maps`]).
REOPEN_MEMORY_MAPS_AFTER_BYTES = 256 * 1024**2
# Everything written half-way starts with this prefix and is renamed into place once complete.
_TEMPORARY_PREFIX = ".hf_vidcap-tmp-"
_FORMAT_VERSION = 1
# How long the ranks of a distributed run wait for each other (the slowest rank's share of the extraction).
_DISTRIBUTED_TIMEOUT = timedelta(hours=24)


def load_frame_encoder(
    backbone: str | os.PathLike | PreTrainedConfig,
    pooling: VisionFeaturePooling = "mean",
    grid_size: int = 1,
    frame_chunk_size: int = 64,
) -> FrameFeatureEncoder:
    """A frozen [`FrameFeatureEncoder`] around any transformers vision model.

    Args:
        backbone (`str`, `os.PathLike` or [`PreTrainedConfig`]): a local folder or Hub id of a vision model, whose
            pretrained weights are loaded with `AutoModel.from_pretrained`, or a config, for a randomly initialised
            backbone (seed torch first for reproducible weights).
        pooling (`str`, *optional*, defaults to `"mean"`): `"mean"`, `"cls"`, `"pooler"` or `"grid"` (see
            [`FrameFeatureEncoder`]).
        grid_size (`int`, *optional*, defaults to 1): side of the spatial grid kept by `pooling="grid"`.
        frame_chunk_size (`int`, *optional*, defaults to 64): frames that go through the backbone at once.

    Returns:
        [`FrameFeatureEncoder`]: in eval mode.

    Raises:
        `ValueError`: if `backbone` is neither a config nor a folder or Hub id holding a transformers model.
    """
    return _load_encoder(
        backbone, lambda config: FrameFeatureEncoder(config, pooling, grid_size, frame_chunk_size=frame_chunk_size)
    )


def load_clip_encoder(
    backbone: str | os.PathLike | PreTrainedConfig,
    clip_num_frames: int | None = None,
    frame_chunk_size: int = 8,
) -> ClipFeatureEncoder:
    """A frozen [`ClipFeatureEncoder`] around any transformers video model (VideoMAE, TimeSformer, ViViT, ...), for
    the `clip_features` of [`extract_video_features`]: one mean-pooled feature per frame, from the window of
    `clip_num_frames` frames centred on it (as G2L computes them from `clip_vision_config`).

    Args:
        backbone (`str`, `os.PathLike` or [`PreTrainedConfig`]): a local folder or Hub id of a video model, whose
            pretrained weights are loaded with `AutoModel.from_pretrained`, or a config, for a randomly initialised
            backbone (seed torch first for reproducible weights).
        clip_num_frames (`int`, *optional*): frames per window; defaults to the model's `num_frames`.
        frame_chunk_size (`int`, *optional*, defaults to 8): windows that go through the backbone at once.

    Returns:
        [`ClipFeatureEncoder`]: in eval mode.

    Raises:
        `ValueError`: if `backbone` is neither a config nor a folder or Hub id holding a transformers model.
    """
    return _load_encoder(
        backbone,
        lambda config: ClipFeatureEncoder(config, clip_num_frames=clip_num_frames, frame_chunk_size=frame_chunk_size),
    )


def _load_encoder(
    backbone: str | os.PathLike | PreTrainedConfig, build: Callable[[PreTrainedConfig], FrameFeatureEncoder]
) -> FrameFeatureEncoder:
    """`build(config)` in eval mode, with the pretrained weights of `backbone` unless it is a config."""
    if isinstance(backbone, PreTrainedConfig):
        return build(backbone).eval()
    pretrained = load_pretrained_backbone(backbone)
    encoder = build(pretrained.config)
    encoder.backbone.load_state_dict(pretrained.state_dict())
    encoder.backbone.name_or_path = os.fspath(backbone)
    return encoder.eval()


@dataclass
class VideoFeaturesInfo:
    """What a feature dataset written by [`extract_video_features_to_disk`] was extracted with.

    A captioner trained on the features reads them with `video_feature_size`; one that captions video files builds
    the same frame encoder with
    `ModelClass.from_vision_pretrained(info.backbone_path, vision_feature_pooling=info.vision_feature_pooling,
    vision_feature_grid_size=info.vision_feature_grid_size, ...)` and pairs `info.feature_extractor` with its
    tokenizer in a [`VideoCaptioningProcessor`]. A G2L captioner computes the extra streams from videos with
    `clip_vision_config` from `info.clip_backbone_path` (and its weights), `clip_num_frames=info.clip_num_frames`,
    `num_regions=info.region_grid_size**2` and `region_frame_stride=info.region_frame_stride`.

    Args:
        backbone_path (`Path`): the folder holding the backbone (`save_pretrained` format).
        backbone_name_or_path (`str`): where the backbone came from (empty for a randomly initialised one).
        vision_feature_pooling (`str`): the pooling of the backbone output.
        vision_feature_grid_size (`int`): the grid side for `"grid"` pooling.
        video_feature_size (`int`): the length of one frame's feature vector.
        dtype (`str`): the storage dtype, `"float32"` or `"float16"`.
        feature_extractor ([`VideoCaptioningFeatureExtractor`]): the frame sampling and preprocessing.
        clip_backbone_path (`Path`, *optional*): the folder holding the video model of `clip_features` (`None`
            without clip features).
        clip_backbone_name_or_path (`str`, *optional*): where the video model came from (empty for a random one).
        clip_num_frames (`int`, *optional*): frames per clip window.
        clip_feature_size (`int`, *optional*): the length of one frame's clip feature.
        region_grid_size (`int`, *optional*): side of the grid of `region_features` (`None` without them).
        region_frame_stride (`int`, *optional*): region features are read on one frame in every this many.
        region_feature_size (`int`, *optional*): the length of one region's feature vector.
        backbone_weights_sha256 (`str`, *optional*): [`weights_sha256`] of the backbone (`None` in a record that does not
            hold it).
        clip_backbone_weights_sha256 (`str`, *optional*): likewise for the video model of `clip_features`.
    """

    backbone_path: Path
    backbone_name_or_path: str
    vision_feature_pooling: str
    vision_feature_grid_size: int
    video_feature_size: int
    dtype: str
    feature_extractor: VideoCaptioningFeatureExtractor
    clip_backbone_path: Path | None = None
    clip_backbone_name_or_path: str | None = None
    clip_num_frames: int | None = None
    clip_feature_size: int | None = None
    region_grid_size: int | None = None
    region_frame_stride: int | None = None
    region_feature_size: int | None = None
    backbone_weights_sha256: str | None = None
    clip_backbone_weights_sha256: str | None = None

    @classmethod
    def load(cls, path: str | os.PathLike) -> VideoFeaturesInfo:
        """Read the `feature_extraction.json` of a folder written by [`extract_video_features_to_disk`]."""
        path = Path(path)
        if not (path / SETTINGS_FILE).is_file():
            raise ValueError(f"{path} holds no {SETTINGS_FILE}: it was not written by `hf-vidcap extract-features`.")
        settings = json.loads((path / SETTINGS_FILE).read_text())
        return cls(
            backbone_path=path / BACKBONE_DIR,
            backbone_name_or_path=settings["backbone_name_or_path"],
            vision_feature_pooling=settings["vision_feature_pooling"],
            vision_feature_grid_size=settings["vision_feature_grid_size"],
            video_feature_size=settings["video_feature_size"],
            dtype=settings["dtype"],
            feature_extractor=VideoCaptioningFeatureExtractor.from_dict(settings["feature_extractor"]),
            clip_backbone_path=path / CLIP_BACKBONE_DIR if settings.get("clip_backbone_model_type") else None,
            clip_backbone_name_or_path=settings.get("clip_backbone_name_or_path"),
            clip_num_frames=settings.get("clip_num_frames"),
            clip_feature_size=settings.get("clip_feature_size"),
            region_grid_size=settings.get("region_grid_size"),
            region_frame_stride=settings.get("region_frame_stride"),
            region_feature_size=settings.get("region_feature_size"),
            backbone_weights_sha256=settings.get("backbone_weights_sha256"),
            clip_backbone_weights_sha256=settings.get("clip_backbone_weights_sha256"),
        )


@dataclass(frozen=True)
class _StreamEncoders:
    """What computes every column an extraction writes: `video_features` always, `clip_features` with a clip
    encoder, `region_features` with a region grid (on one frame in every `region_frame_stride`)."""

    frames: FrameFeatureEncoder
    clips: ClipFeatureEncoder | None = None
    region_grid_size: int | None = None
    region_frame_stride: int = 3

    @classmethod
    def resolve(
        cls,
        encoder: FrameFeatureEncoder | VideoCaptioningPreTrainedModel,
        clip_encoder: ClipFeatureEncoder | None,
        region_grid_size: int | None,
        region_frame_stride: int,
    ) -> _StreamEncoders:
        """The encoders from the arguments of [`extract_video_features`], checked."""
        if isinstance(encoder, VideoCaptioningPreTrainedModel):
            if clip_encoder is not None or region_grid_size is not None:
                raise ValueError(
                    "Pass `clip_encoder` and `region_grid_size` with a frame encoder, not with a captioner: a "
                    "captioner's own backbones compute every stream it reads."
                )
            return cls._of_captioner(encoder)
        if not isinstance(encoder, FrameFeatureEncoder):
            raise ValueError(
                f"`encoder` must be a FrameFeatureEncoder (see `load_frame_encoder`) or a captioner, got "
                f"{type(encoder).__name__}."
            )
        if clip_encoder is not None and (
            not isinstance(clip_encoder, ClipFeatureEncoder) or clip_encoder.pooling != "mean"
        ):
            raise ValueError(
                "`clip_encoder` must be a mean-pooled ClipFeatureEncoder (see `load_clip_encoder`), as captioners "
                f"compute clip features from videos; got {type(clip_encoder).__name__} "
                f"with pooling {getattr(clip_encoder, 'pooling', None)!r}."
            )
        for name, value in (("region_grid_size", region_grid_size), ("region_frame_stride", region_frame_stride)):
            if value is not None:
                check_positive_int(name, value)
        return cls(encoder, clip_encoder, region_grid_size, region_frame_stride)

    @classmethod
    def _of_captioner(cls, model: VideoCaptioningPreTrainedModel) -> _StreamEncoders:
        """A captioner's frame encoder and, for the streams it reads, its clip encoder and region grid."""
        if model.vision_model is None:
            raise ValueError(
                f"The {type(model).__name__} has no vision backbone (`config.vision_config` is None): it cannot "
                "compute features from videos."
            )
        streams = {stream.name: stream for stream in model.video_streams()}
        unknown = sorted(set(streams) - {CLIP_FEATURES_COLUMN, REGION_FEATURES_COLUMN})
        if unknown:
            raise ValueError(
                f"{type(model).__name__} reads {', '.join(unknown)}, which this extraction cannot compute."
            )
        clips = getattr(model, "clip_model", None)
        if CLIP_FEATURES_COLUMN in streams and clips is None:
            raise ValueError(
                f"The {type(model).__name__} reads clip_features but has no `clip_vision_config` to compute them."
            )
        regions = streams.get(REGION_FEATURES_COLUMN)
        return cls(
            model.vision_model,
            clips if CLIP_FEATURES_COLUMN in streams else None,
            math.isqrt(regions.num_regions) if regions is not None else None,
            regions.frame_stride if regions is not None else 3,
        )

    @property
    def columns(self) -> list[str]:
        """The columns written."""
        return list(self.features("float32"))

    def features(self, dtype: str) -> dict[str, Array2D | Array3D]:
        """The `datasets` feature type of every column written."""
        columns = {FEATURES_COLUMN: Array2D(shape=(None, self.frames.output_size), dtype=dtype)}
        if self.clips is not None:
            columns[CLIP_FEATURES_COLUMN] = Array2D(shape=(None, self.clips.output_size), dtype=dtype)
        if self.region_grid_size is not None:
            shape = (None, self.region_grid_size**2, self.region_feature_size)
            columns[REGION_FEATURES_COLUMN] = Array3D(shape=shape, dtype=dtype)
        return columns

    def check_frames(self, feature_extractor: VideoCaptioningFeatureExtractor) -> None:
        """Encode one blank frame of the size `feature_extractor` resizes to, so that backbones that cannot read such
        frames (a text model, a ViT made for another image size, ...) are named before anything is written."""
        if not feature_extractor.do_resize:
            return
        height, width = feature_extractor.size["height"], feature_extractor.size["width"]
        try:
            with torch.inference_mode():
                self.encode([torch.zeros(1, 3, height, width)])
        except (RuntimeError, ValueError, TypeError) as error:
            backbones = " and ".join(
                type(encoder.backbone).__name__ for encoder in (self.frames, self.clips) if encoder is not None
            )
            raise ValueError(
                f"The backbone ({backbones}) cannot encode {height}x{width} RGB frames, the size of the feature "
                f"extractor: {str(error).splitlines()[0]}"
            ) from error

    @property
    def region_feature_size(self) -> int:
        return vision_feature_size(self.frames.backbone.config, "mean", 1)

    def encode(self, frames: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        """Every column's values for a batch of videos, each given as its real frames `(num_frames, 3, H, W)`:
        `[T, D]` per video, or `[ceil(T / region_frame_stride), region_grid_size**2, C]` for the regions."""
        lengths = [len(video) for video in frames]
        # All real frames of the batch in one sequence: the encoder runs them in chunks of `frame_chunk_size`, and
        # one backbone pass gives the regions too. A single video is not copied.
        sequence = frames[0] if len(frames) == 1 else torch.cat(frames)
        features, *regions = _encode_frame_sequence(self.frames, sequence, self.region_grid_size)
        encoded = {FEATURES_COLUMN: features.split(lengths)}
        if self.clips is not None:
            device = next(self.clips.parameters()).device
            mask = (torch.arange(max(lengths)) < torch.tensor(lengths)[:, None]).long().to(device)
            padded = frames[0][None] if len(frames) == 1 else pad_sequence(frames, batch_first=True)
            clips = self.clips(padded.to(device), mask)
            encoded[CLIP_FEATURES_COLUMN] = [video[:length] for video, length in zip(clips, lengths)]
        if regions:
            encoded[REGION_FEATURES_COLUMN] = [
                video[region_frame_indices(torch.tensor([len(video)]), len(video), self.region_frame_stride)[0]]
                for video in regions[0].split(lengths)
            ]
        return encoded

    def settings(self) -> dict[str, Any]:
        """What determines the extra streams, for the saved settings (all `None` without them)."""
        return {
            "clip_backbone_model_type": self.clips.backbone.config.model_type if self.clips else None,
            "clip_backbone_weights_sha256": weights_sha256(self.clips.backbone) if self.clips else None,
            "clip_num_frames": self.clips.clip_num_frames if self.clips else None,
            "clip_feature_size": self.clips.output_size if self.clips else None,
            "region_grid_size": self.region_grid_size,
            "region_frame_stride": self.region_frame_stride if self.region_grid_size else None,
            "region_feature_size": self.region_feature_size if self.region_grid_size else None,
        }


def _encode_frame_sequence(
    encoder: FrameFeatureEncoder, pixels: torch.Tensor, region_grid_size: int | None = None
) -> tuple[torch.Tensor, ...]:
    """`encoder` over frames `(num_frames, 3, H, W)` taken as one video, on the encoder's device: the pooled features
    of every frame, and with `region_grid_size` also its regions (from the same backbone pass)."""
    device = next(encoder.parameters()).device
    inputs = (pixels[None].to(device), torch.ones(1, len(pixels), dtype=torch.long, device=device))
    if region_grid_size is None:
        return (encoder(*inputs)[0],)
    return tuple(encoded[0] for encoded in encoder(*inputs, region_grid_size, with_frame_features=True))


class _VideoBatchEncoder:
    """The `datasets.map` function: adds `video_features` (`[T, D]`, padding frames dropped), and the extra streams
    asked for, to a batch of rows.

    Videos that cannot be read ([`InvalidVideoError`]) either raise or, with `skipped` given, are left out of the
    output and appended to `skipped` with the reason.
    """

    def __init__(
        self,
        encoders: _StreamEncoders,
        feature_extractor: VideoCaptioningFeatureExtractor,
        video_column: str,
        dtype: str,
        skipped: list[dict[str, str]] | None = None,
        progress: datasets.utils.tqdm | None = None,
    ) -> None:
        self.encoders = encoders
        self.feature_extractor = feature_extractor
        self.video_column = video_column
        self.dtype = getattr(torch, dtype)
        self.skipped = skipped
        self.progress = progress

    @torch.inference_mode()
    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        kept, pending = [], []
        encoded = {name: [] for name in self.encoders.columns}
        # Videos go through the backbones together up to a chunk of frames, so that short clips share backbone calls
        # while the frames held at once stay near a chunk, or one long clip, however large the batch.
        chunk_size = self.encoders.frames.frame_chunk_size
        for index in range(len(batch[self.video_column])):
            frames = self._real_frames(batch, index)
            if frames is None:
                continue
            kept.append(index)
            if pending and sum(map(len, pending)) + len(frames) > chunk_size:
                self._encode(pending, encoded)
            pending.append(frames)
            del frames  # `pending` holds the only reference: encoded, they go before the next video is decoded
            if sum(map(len, pending)) >= chunk_size:
                self._encode(pending, encoded)
        if pending:
            self._encode(pending, encoded)
        output = {name: [values[index] for index in kept] for name, values in batch.items()}
        output.update(encoded)
        if self.progress is not None:
            self.progress.update(len(batch[self.video_column]))
        return output

    def _real_frames(self, batch: dict[str, list], index: int) -> torch.Tensor | None:
        """The preprocessed real frames `(T, 3, H, W)` of the batch's video `index` (a view without the padding after
        them), or `None` for a video that cannot be read and is skipped."""
        video = batch[self.video_column][index]
        try:
            inputs = self.feature_extractor(video, return_tensors="pt")
        except InvalidVideoError as error:
            if self.skipped is None:
                raise
            video_id = batch["video_id"][index] if "video_id" in batch else None
            reason = str(error.__cause__ or error)  # without the `videos[0]: ` of a batch of one
            self.skipped.append({"video_id": video_id, self.video_column: video, "reason": reason})
            return None
        return inputs["pixel_values_videos"][0, : int(inputs["video_attention_mask"][0].sum())]

    def _encode(self, pending: list[torch.Tensor], encoded: dict[str, list[np.ndarray]]) -> None:
        """Encode the `pending` videos' frames into `encoded`'s columns, and empty `pending`."""
        for name, videos in self.encoders.encode(pending).items():
            encoded[name] += [video.to(self.dtype).cpu().numpy() for video in videos]
        pending.clear()


def _output_features(dataset: Dataset, encoders: _StreamEncoders, dtype: str) -> Features:
    return Features({**dataset.features, **encoders.features(dtype)})


def _check_dataset(dataset: Dataset, video_column: str, name: str, dtype: str, encoders: _StreamEncoders) -> None:
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"{name} must be a `datasets.Dataset`, got a {type(dataset).__name__}: features are written to a "
            "map-style dataset (load it without `streaming=True`, or pick a split of a DatasetDict)."
        )
    if dtype not in FEATURE_DTYPES:
        raise ValueError(f"`dtype` must be one of {FEATURE_DTYPES}, got {dtype!r}.")
    if video_column not in dataset.column_names:
        raise ValueError(
            f"{name} has no {video_column!r} column of video paths (its columns: {dataset.column_names}); pass the "
            "column that holds them as `video_column`."
        )
    extracted = [column for column in encoders.columns if column in dataset.column_names]
    if extracted:
        raise ValueError(f"{name} already has a {extracted[0]!r} column: its features were extracted before.")


def extract_video_features(
    dataset: Dataset,
    encoder: FrameFeatureEncoder | VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor | VideoCaptioningFeatureExtractor,
    batch_size: int = 8,
    video_column: str = "video_path",
    dtype: str = "float32",
    clip_encoder: ClipFeatureEncoder | None = None,
    region_grid_size: int | None = None,
    region_frame_stride: int = 3,
) -> Dataset:
    """Add a `video_features` column (`[T, D]` per video, padding frames dropped) computed from each video file, and
    the `clip_features` and `region_features` of multi-stream captioners if asked.

    For a corpus, prefer [`extract_video_features_to_disk`]: resumable, sharded, and tolerant of unreadable videos.

    Args:
        dataset (`datasets.Dataset`): rows with a video file path in `video_column`.
        encoder ([`FrameFeatureEncoder`] or [`VideoCaptioningPreTrainedModel`]): the frame encoder, e.g.
            `model.vision_model` of a captioner built with a `vision_config`, so that features match what the
            captioner computes from pixels; or the captioner itself, whose own backbones then compute every stream it
            reads (`model.video_streams()`, e.g. G2L's clip and region features).
        processor ([`VideoCaptioningProcessor`] or [`VideoCaptioningFeatureExtractor`]): decodes and preprocesses
            the videos.
        batch_size (`int`, *optional*, defaults to 8): videos per batch.
        video_column (`str`, *optional*, defaults to `"video_path"`): the column of video paths.
        dtype (`str`, *optional*, defaults to `"float32"`): `"float32"` or `"float16"` storage.
        clip_encoder ([`ClipFeatureEncoder`], *optional*): a video model (see [`load_clip_encoder`]), to add
            `clip_features` (`[T, D_clip]`, one per frame).
        region_grid_size (`int`, *optional*): to add `region_features` (`[ceil(T / region_frame_stride),
            region_grid_size**2, C]`): the frame backbone's spatial map average-pooled to a `region_grid_size`-a-side
            grid, row-major, on the middle frame of every group of `region_frame_stride` frames (the last frame for a
            shorter last group), as G2L computes them with `num_regions=region_grid_size**2`.
        region_frame_stride (`int`, *optional*, defaults to 3): frames per region step.

    Returns:
        `datasets.Dataset`: the input columns plus `video_features` (and `clip_features`, `region_features`).

    Raises:
        [`InvalidVideoError`]: for a video that cannot be read.
        `ValueError`: for bad arguments, or a captioner that cannot compute a stream it reads.
    """
    encoders = _StreamEncoders.resolve(encoder, clip_encoder, region_grid_size, region_frame_stride)
    _check_dataset(dataset, video_column, "The dataset", dtype, encoders)
    feature_extractor = getattr(processor, "feature_extractor", processor)
    return dataset.map(
        _VideoBatchEncoder(encoders, feature_extractor, video_column, dtype),
        batched=True,
        batch_size=batch_size,
        writer_batch_size=batch_size,
        features=_output_features(dataset, encoders, dtype),
        desc="Extracting frame features",
    )


def extract_video_features_to_disk(
    dataset: Dataset | DatasetDict,
    output_dir: str | os.PathLike,
    encoder: FrameFeatureEncoder,
    feature_extractor: VideoCaptioningFeatureExtractor,
    batch_size: int = 8,
    chunk_size: int = 512,
    dtype: str = "float32",
    video_column: str = "video_path",
    num_shards: int | None = None,
    shard_index: int | None = None,
    clip_encoder: ClipFeatureEncoder | None = None,
    region_grid_size: int | None = None,
    region_frame_stride: int = 3,
) -> DatasetDict | None:
    """Extract frame features of every video of a dataset into a `DatasetDict` saved with `save_to_disk`.

    Each split is cut into chunks of `chunk_size` rows; a chunk is extracted with `datasets.map` into an Arrow file
    and moved into `output_dir/chunks/` once complete, so an interrupted run started again with the same arguments
    skips the complete chunks and ends with the same dataset. When every chunk is there, they are combined, in the
    original row order, into `output_dir` (load it with `datasets.load_from_disk`), and the chunks are removed.

    Sharding: with `num_shards` and `shard_index`, this process extracts chunks `shard_index`, `shard_index +
    num_shards`, ... and returns `None`; once every shard is done, a run without them (which finds every chunk
    complete) combines them. Under `torchrun` or `accelerate launch` (`torch.distributed` initialised, or `RANK` and
    `WORLD_SIZE` set) the ranks share the chunks the same way, rank 0 combines them, and every rank returns the result.

    Args:
        dataset (`datasets.DatasetDict` or `datasets.Dataset`): splits with a video file path per row in
            `video_column` (the loaders' `video_id`, `video_path`, `captions`); every column is kept. A `Dataset` is
            one split, named after its `split` (`"train"` if it has none).
        output_dir (`str` or `os.PathLike`): a new or empty folder, or one this function wrote for the same
            extraction (which it then resumes). A folder holding anything else is refused.
        encoder ([`FrameFeatureEncoder`] or [`VideoCaptioningPreTrainedModel`]): the frozen frame encoder (see
            [`load_frame_encoder`]), on any device; or a captioner, whose own backbones compute every stream it reads.
        feature_extractor ([`VideoCaptioningFeatureExtractor`]): frame sampling and preprocessing.
        batch_size (`int`, *optional*, defaults to 8): videos decoded and encoded at once (may change on resume).
        chunk_size (`int`, *optional*, defaults to 512): videos per chunk, the unit of resuming and sharding.
        dtype (`str`, *optional*, defaults to `"float32"`): storage dtype, `"float32"` or `"float16"`.
        video_column (`str`, *optional*, defaults to `"video_path"`): the column of video paths.
        num_shards (`int`, *optional*): number of processes sharing the work.
        shard_index (`int`, *optional*): this process's share, from 0 to `num_shards - 1`.
        clip_encoder ([`ClipFeatureEncoder`], *optional*): a video model (see [`load_clip_encoder`]), saved in `clip_backbone/`, to add
            `clip_features` (`[T, D_clip]`, one per frame).
        region_grid_size (`int`, *optional*): to add `region_features` (`[ceil(T / region_frame_stride),
            region_grid_size**2, C]`): the frame backbone's spatial map average-pooled to a `region_grid_size`-a-side
            grid, row-major, on the middle frame of every group of `region_frame_stride` frames (the last frame for a
            shorter last group), as G2L computes them with `num_regions=region_grid_size**2`.
        region_frame_stride (`int`, *optional*, defaults to 3): frames per region step.

    Returns:
        `datasets.DatasetDict` (memory-mapped from `output_dir`) with the input columns plus `video_features`
        (`Array2D(shape=(None, D))`, one row per real frame), and `clip_features` (`Array2D`) and `region_features`
        (`Array3D(shape=(None, region_grid_size**2, C))`) if asked, without the rows of unreadable videos; `None` for
        a shard of a run sharded with `num_shards`.

    Raises:
        `ValueError`: for a dataset without `video_column`, bad shard or chunk arguments, backbones that cannot
        encode frames of the feature extractor's size, or an `output_dir` that holds features extracted with other
        settings or from another dataset.
        `FileExistsError`: if `output_dir` holds files this function did not write.
    """
    encoders = _StreamEncoders.resolve(encoder, clip_encoder, region_grid_size, region_frame_stride)
    splits = _as_dataset_dict(dataset)
    for name, split in splits.items():
        _check_dataset(split, video_column, f"Split {name!r}", dtype, encoders)
        if name in (BACKBONE_DIR, CLIP_BACKBONE_DIR, CHUNKS_DIR):
            raise ValueError(f"A split may not be named {name!r}: the output folder uses that name.")
    if chunk_size < 1 or batch_size < 1:
        raise ValueError(f"`chunk_size` and `batch_size` must be at least 1, got {chunk_size} and {batch_size}.")
    output_dir = Path(output_dir)
    shard_index, num_shards, distributed, owns_process_group = _resolve_shard(num_shards, shard_index)
    try:
        settings = _settings(splits, encoders, feature_extractor, chunk_size, dtype, video_column)
        encoders.check_frames(feature_extractor)
        if _prepare_output_dir(output_dir, settings, encoders, feature_extractor):
            return load_from_disk(output_dir)
        shard = _shard_chunks(splits, chunk_size, shard_index, num_shards)
        _extract_chunks(shard, splits, output_dir, encoders, feature_extractor, batch_size, dtype, video_column)
        if distributed:
            torch.distributed.barrier()
        elif num_shards > 1:
            logger.info(
                f"Shard {shard_index} of {num_shards} is done. Once every shard is, run again without "
                "`num_shards`/`shard_index` to combine them."
            )
            return None
        if shard_index == 0:
            _combine_chunks(splits, output_dir, chunk_size)
        if distributed:
            torch.distributed.barrier()
        return load_from_disk(output_dir)
    finally:
        if owns_process_group:
            torch.distributed.destroy_process_group()


def _as_dataset_dict(dataset: Dataset | DatasetDict) -> DatasetDict:
    if isinstance(dataset, DatasetDict):
        return dataset
    if isinstance(dataset, Dataset):
        return DatasetDict({str(dataset.split) if dataset.split is not None else "train": dataset})
    raise ValueError(f"`dataset` must be a datasets.Dataset or DatasetDict, got {type(dataset).__name__}.")


def _resolve_shard(num_shards: int | None, shard_index: int | None) -> tuple[int, int, bool, bool]:
    """`(shard_index, num_shards, distributed, owns_process_group)` from the arguments or the launcher's ranks."""
    if num_shards is not None or shard_index is not None:
        if num_shards is None or shard_index is None:
            raise ValueError("Pass both `num_shards` and `shard_index`, or neither.")
        if num_shards < 1 or not 0 <= shard_index < num_shards:
            raise ValueError(f"`shard_index` must be in [0, num_shards), got {shard_index} of {num_shards}.")
        return shard_index, num_shards, False, False
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        world_size = torch.distributed.get_world_size()
        return torch.distributed.get_rank(), world_size, world_size > 1, False
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        torch.distributed.init_process_group("gloo", timeout=_DISTRIBUTED_TIMEOUT)
        return torch.distributed.get_rank(), world_size, True, True
    return 0, 1, False, False


def _settings(
    splits: DatasetDict,
    encoders: _StreamEncoders,
    feature_extractor: VideoCaptioningFeatureExtractor,
    chunk_size: int,
    dtype: str,
    video_column: str,
) -> dict[str, Any]:
    """Everything that determines the output: a folder is resumed only by a run with equal settings."""
    settings = {
        "format_version": _FORMAT_VERSION,
        "backbone_model_type": encoders.frames.backbone.config.model_type,
        "backbone_weights_sha256": weights_sha256(encoders.frames.backbone),
        "vision_feature_pooling": encoders.frames.pooling,
        "vision_feature_grid_size": encoders.frames.grid_size,
        "video_feature_size": encoders.frames.output_size,
        **encoders.settings(),
        "dtype": dtype,
        "chunk_size": chunk_size,
        "video_column": video_column,
        "feature_extractor": feature_extractor.to_dict(),
        "splits": {name: _split_signature(split) for name, split in splits.items()},
    }
    return json.loads(json.dumps(settings))


def weights_sha256(module: torch.nn.Module) -> str:
    """A digest of the weights of `module` (names and bytes), recorded with the features a backbone extracted."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _split_signature(split: Dataset) -> dict[str, Any]:
    """The number of rows and a digest of every column (video paths, ids, captions, ...), read a batch at a time: the
    output carries the columns beside the features, so a dataset whose captions were edited is another dataset."""
    digest = hashlib.sha256()
    columns = sorted(split.column_names)
    for batch in split.iter(batch_size=10_000):
        for column in columns:
            digest.update(f"{column}\0{json.dumps(batch[column], default=str)}\0".encode())
    return {"num_rows": len(split), "sha256": digest.hexdigest()}


def _prepare_output_dir(
    output_dir: Path,
    settings: dict[str, Any],
    encoders: _StreamEncoders,
    feature_extractor: VideoCaptioningFeatureExtractor,
) -> bool:
    """Check that `output_dir` is new, empty or this extraction's, write the settings, backbone and preprocessing
    there, and tell whether the extraction is already complete."""
    settings_file = output_dir / SETTINGS_FILE
    if settings_file.is_file():
        saved = json.loads(settings_file.read_text())
        keys = {*settings, *saved} - {"backbone_name_or_path", "clip_backbone_name_or_path", "result"}
        different = sorted(key for key in keys if settings.get(key) != saved.get(key))
        if different:
            raise ValueError(
                f"{output_dir} holds features extracted with other settings or from another dataset (differing: "
                f"{', '.join(different)}); use a new output folder, or the arguments of the first run to resume it."
            )
        if "result" in saved:
            shutil.rmtree(output_dir / CHUNKS_DIR, ignore_errors=True)  # left by a run stopped while cleaning up
            return True
    else:
        if output_dir.exists():
            _check_output_dir_is_empty(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        with _atomic_path(settings_file) as path:
            names = {"backbone_name_or_path": encoders.frames.backbone.name_or_path}
            if encoders.clips is not None:
                names["clip_backbone_name_or_path"] = encoders.clips.backbone.name_or_path
            path.write_text(json.dumps({**settings, **names}, indent=2))
    _save_reproduction_files(output_dir, encoders, feature_extractor)
    return False


def _check_output_dir_is_empty(output_dir: Path) -> None:
    """Refuse a file, or a folder with anything but what a concurrent shard of this extraction is writing."""
    if not output_dir.is_dir():
        raise FileExistsError(f"{output_dir} is a file, not a folder; pass a new or empty folder.")
    foreign = sorted(entry.name for entry in output_dir.iterdir() if not entry.name.startswith(_TEMPORARY_PREFIX))
    if foreign:
        raise FileExistsError(
            f"{output_dir} is not empty and holds no {SETTINGS_FILE} (it has {', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); refusing to write into it. Pass a new or empty folder."
        )


def _save_reproduction_files(
    output_dir: Path, encoders: _StreamEncoders, feature_extractor: VideoCaptioningFeatureExtractor
) -> None:
    """The backbones and the frame preprocessing, for a captioner that computes the same features from videos."""
    backbones = {BACKBONE_DIR: encoders.frames, CLIP_BACKBONE_DIR: encoders.clips}
    for name, encoder in backbones.items():
        if encoder is not None and not (output_dir / name).is_dir():
            with _atomic_path(output_dir / name) as path:
                encoder.backbone.save_pretrained(path)
    if not (output_dir / FEATURE_EXTRACTOR_NAME).is_file():
        with _atomic_path(output_dir / FEATURE_EXTRACTOR_NAME) as path:
            feature_extractor.to_json_file(path)


@contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write a file or folder into, renamed to `path` once written. A folder that
    another process completed first is kept, and this one dropped."""
    temporary = path.with_name(f"{_TEMPORARY_PREFIX}{path.name}-{os.getpid()}")
    _remove(temporary)
    try:
        yield temporary
        try:
            os.replace(temporary, path)
        except OSError:
            if not (temporary.is_dir() and path.is_dir()):
                raise
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _chunk_bounds(num_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    """`[start, stop)` row ranges of the chunks of a split; an empty split has one empty chunk, so that it is saved
    with its columns."""
    num_chunks = max(1, math.ceil(num_rows / chunk_size))
    return [(index * chunk_size, min(num_rows, (index + 1) * chunk_size)) for index in range(num_chunks)]


def _shard_chunks(
    splits: DatasetDict, chunk_size: int, shard_index: int, num_shards: int
) -> list[tuple[str, int, int, int]]:
    """This shard's chunks `(split, chunk index, start row, stop row)`: every `num_shards`-th chunk of all splits,
    from the `shard_index`-th."""
    chunks = [
        (name, index, start, stop)
        for name, split in splits.items()
        for index, (start, stop) in enumerate(_chunk_bounds(len(split), chunk_size))
    ]
    return chunks[shard_index::num_shards]


def _extract_chunks(
    chunks: list[tuple[str, int, int, int]],
    splits: DatasetDict,
    output_dir: Path,
    encoders: _StreamEncoders,
    feature_extractor: VideoCaptioningFeatureExtractor,
    batch_size: int,
    dtype: str,
    video_column: str,
) -> None:
    """Extract the chunks that are not complete yet, each into its folder under `output_dir/chunks`."""
    pending = [chunk for chunk in chunks if not _chunk_dir(output_dir, *chunk[:2]).is_dir()]
    done = sum(stop - start for *_, start, stop in chunks) - sum(stop - start for *_, start, stop in pending)
    if done:
        logger.info(f"{len(chunks) - len(pending)} of {len(chunks)} chunks were extracted before; skipping them.")
    progress = datasets.utils.tqdm(
        total=sum(stop - start for *_, start, stop in chunks), initial=done, unit="video", desc="Extracting features"
    )
    progress_bars_were_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()  # one bar over the whole shard rather than one per chunk
    try:
        for name, index, start, stop in pending:
            rows = splits[name].select(range(start, stop))
            skipped = []
            batch_encoder = _VideoBatchEncoder(encoders, feature_extractor, video_column, dtype, skipped, progress)
            chunk_dir = _chunk_dir(output_dir, name, index)
            chunk_dir.parent.mkdir(parents=True, exist_ok=True)
            features = _output_features(rows, encoders, dtype)
            with _atomic_path(chunk_dir) as path:
                path.mkdir()
                if len(rows) == 0:  # (an empty split) `map` writes nothing for no rows: the columns alone
                    with ArrowWriter(features=features, path=str(path / CHUNK_DATA_FILE)) as writer:
                        writer.finalize()
                else:
                    rows.map(
                        batch_encoder,
                        batched=True,
                        batch_size=batch_size,
                        writer_batch_size=batch_size,
                        features=features,
                        remove_columns=rows.column_names,
                        cache_file_name=str(path / CHUNK_DATA_FILE),
                        load_from_cache_file=False,
                        new_fingerprint=hashlib.sha256(str(chunk_dir.absolute()).encode()).hexdigest()[:32],
                    )
                (path / CHUNK_SKIPPED_FILE).write_text(json.dumps(skipped))
    finally:
        if progress_bars_were_enabled:
            datasets.enable_progress_bars()
        progress.close()


def _chunk_dir(output_dir: Path, split: str, index: int) -> Path:
    return output_dir / CHUNKS_DIR / split / f"{index:05d}"


def _combine_chunks(splits: DatasetDict, output_dir: Path, chunk_size: int) -> None:
    """Concatenate every split's chunks in order into `output_dir` (`save_to_disk`), write the report of skipped
    videos and the counts, then remove the chunks."""
    combined, skipped = {}, []
    for name, split in splits.items():
        chunk_dirs = [
            _chunk_dir(output_dir, name, index) for index in range(len(_chunk_bounds(len(split), chunk_size)))
        ]
        combined[name] = concatenate_datasets([Dataset.from_file(str(path / CHUNK_DATA_FILE)) for path in chunk_dirs])
        for path in chunk_dirs:
            skipped += [{"split": name, **record} for record in json.loads((path / CHUNK_SKIPPED_FILE).read_text())]
    # An empty split (no video, or none readable) needs one shard: with none, `load_from_disk` cannot read it back.
    DatasetDict(combined).save_to_disk(
        output_dir, num_shards={name: 1 for name in combined if not len(combined[name])}
    )
    with _atomic_path(output_dir / SKIPPED_VIDEOS_FILE) as path:
        path.write_text("".join(json.dumps(record) + "\n" for record in skipped))
    settings = json.loads((output_dir / SETTINGS_FILE).read_text())
    settings["result"] = {
        name: {"num_videos": len(splits[name]), "num_extracted": len(combined[name])} for name in splits
    }
    with _atomic_path(output_dir / SETTINGS_FILE) as path:
        path.write_text(json.dumps(settings, indent=2))
    shutil.rmtree(output_dir / CHUNKS_DIR)
    for entry in output_dir.glob(f"{_TEMPORARY_PREFIX}*"):  # left by interrupted runs
        _remove(entry)
    if skipped:
        logger.warning(
            f"{len(skipped)} videos could not be read and were left out; they are listed with the reason in "
            f"{output_dir / SKIPPED_VIDEOS_FILE}."
        )


def reopen_memory_maps(dataset: Dataset) -> Dataset:
    """The same dataset read through new memory maps of its Arrow files (as a DataLoader worker gets it); an
    in-memory dataset as it is.

    The pages of a memory-mapped Arrow file that a process has read count as its resident memory until the map is
    closed, so a pass over a dataset through one map would end with the whole dataset resident (as page cache the
    kernel can reclaim, but counted all the same). Readers that go over a large dataset open the maps again every
    `REOPEN_MEMORY_MAPS_AFTER_BYTES` read, which keeps resident memory flat with dataset size.
    """
    return pickle.loads(pickle.dumps(dataset)) if dataset.cache_files else dataset


def video_feature_statistics(
    dataset: Dataset, column: str = "video_features", batch_size: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation of every frame of a feature dataset, read in batches so memory stays
    flat with dataset size (for models built with `standardize_video_features=True`).

    Args:
        dataset (`datasets.Dataset`): rows with `[T, D]` frame features in `column`.
        column (`str`, *optional*, defaults to `"video_features"`): the feature column.
        batch_size (`int`, *optional*, defaults to 64): rows read at once.

    Returns:
        `tuple(torch.Tensor, torch.Tensor)`: mean and standard deviation, each of shape `(D,)`, float32.
    """
    rows = reopen_memory_maps(dataset.select_columns([column]).with_format("arrow"))
    total = squares = 0
    count = bytes_read = 0
    for start in range(0, len(rows), batch_size):
        if bytes_read > REOPEN_MEMORY_MAPS_AFTER_BYTES:
            rows, bytes_read = reopen_memory_maps(rows), 0
        vectors = _feature_vectors(rows[start : start + batch_size][column])
        bytes_read += vectors.nbytes
        frames = torch.from_numpy(vectors.astype(np.float64))
        total = total + frames.sum(0)
        squares = squares + frames.pow_(2).sum(0)
        count += frames.shape[0]
    if count == 0:
        raise ValueError(f"The dataset has no frames in column {column!r}.")
    mean = total / count
    std = (squares / count - mean**2).clamp(min=0).sqrt()
    return mean.float(), std.float()


def _feature_vectors(column: pa.ChunkedArray) -> np.ndarray:
    """The feature vectors of a column of `[T, ..., D]` arrays (`Array2D`, `Array3D`, or nested lists) as one
    `[N, D]` NumPy array, read straight from Arrow (datasets' tensor formatting makes copies of every row)."""
    vectors = pa.concat_arrays([getattr(chunk, "storage", chunk) for chunk in column.chunks])
    while pa.types.is_list(vectors.type.value_type) or pa.types.is_fixed_size_list(vectors.type.value_type):
        vectors = vectors.flatten()
    return vectors.flatten().to_numpy(zero_copy_only=False).reshape(len(vectors), -1)


__all__ = [
    "VideoFeaturesInfo",
    "extract_video_features",
    "extract_video_features_to_disk",
    "load_clip_encoder",
    "load_frame_encoder",
    "video_feature_statistics",
]
