"""Frame preprocessing for video captioning: decode, sample, resize, rescale and normalize a batch of videos.

Built on `FeatureExtractionMixin` rather than `BaseVideoProcessor`, which needs torchvision. Frames are resized with
`torch.nn.functional.interpolate`.
"""

import os
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import BatchFeature, FeatureExtractionMixin
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.utils import TensorType

from .video_io import InvalidVideoError, check_sampling_arguments, load_video, sample_frames


# Interpolation modes of `torch.nn.functional.interpolate` usable for frames; antialiasing applies to the first two.
_ANTIALIASED_MODES = ("bilinear", "bicubic")
_RESAMPLE_MODES = (*_ANTIALIASED_MODES, "nearest", "nearest-exact", "area")

VideoInput = str | os.PathLike | np.ndarray | torch.Tensor

# Frames preprocessed at once: bounds the float copies alive beside the batch being filled.
_PREPROCESS_CHUNK_FRAMES = 64


class VideoCaptioningFeatureExtractor(FeatureExtractionMixin):
    r"""
    Turns videos (files, or frames in memory) into a batch of normalized frames for a video captioning model.

    Each video is sampled with [`load_video`] (files) or [`sample_frames`] (arrays), resized, rescaled and normalized.
    Videos of different lengths (with `fps`) are padded to the longest with all-zero frames, masked with 0.

    Args:
        num_frames (`int`, *optional*, defaults to 16):
            Frames sampled uniformly per video (shorter videos are padded). With `fps`, the most frames per video.
        fps (`float`, *optional*):
            If given, frames are taken at this rate from video files instead. Frames in memory have no frame rate:
            they are sampled uniformly with `num_frames`.
        do_sample_frames (`bool`, *optional*, defaults to `True`):
            Whether to sample the frames of each video. `False` takes frames in memory as they are, every one of them
            real (for frames already sampled); video files cannot be read that way.
        do_resize (`bool`, *optional*, defaults to `True`):
            Whether to resize frames to `size`.
        size (`dict[str, int]`, *optional*, defaults to `{"height": 112, "width": 112}`):
            Frame size after resizing; an `int` means a square.
        resample (`str`, *optional*, defaults to `"bilinear"`):
            Interpolation mode: `"bilinear"` or `"bicubic"` (both antialiased), `"nearest"`, `"nearest-exact"`,
            `"area"`.
        do_rescale (`bool`, *optional*, defaults to `True`):
            Whether to multiply pixel values (0 to 255) by `rescale_factor`.
        rescale_factor (`float`, *optional*, defaults to `1 / 255`):
            The rescaling factor.
        do_normalize (`bool`, *optional*, defaults to `True`):
            Whether to normalize each channel with `image_mean` and `image_std`.
        image_mean (`float` or `list[float]`, *optional*, defaults to the ImageNet mean):
            Per-channel mean (RGB), after rescaling.
        image_std (`float` or `list[float]`, *optional*, defaults to the ImageNet standard deviation):
            Per-channel standard deviation (RGB), after rescaling.
    """

    model_input_names = ["pixel_values_videos", "video_attention_mask"]

    def __init__(
        self,
        num_frames: int | None = 16,
        fps: float | None = None,
        do_sample_frames: bool = True,
        do_resize: bool = True,
        size: int | dict[str, int] | None = None,
        resample: str = "bilinear",
        do_rescale: bool = True,
        rescale_factor: float = 1 / 255,
        do_normalize: bool = True,
        image_mean: float | list[float] | None = None,
        image_std: float | list[float] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if num_frames is not None or fps is not None:
            check_sampling_arguments(num_frames, fps, None)
        if resample not in _RESAMPLE_MODES:
            raise ValueError(f"`resample` must be one of {_RESAMPLE_MODES}, got {resample!r}.")
        size = {"height": 112, "width": 112} if size is None else size
        size = {"height": size, "width": size} if isinstance(size, int) else dict(size)
        if sorted(size) != ["height", "width"] or not all(isinstance(v, int) and v > 0 for v in size.values()):
            raise ValueError(f"`size` must be a positive int or a dict with 'height' and 'width', got {size!r}.")
        self.num_frames = num_frames
        self.fps = fps
        self.do_sample_frames = do_sample_frames
        self.do_resize = do_resize
        self.size = size
        self.resample = resample
        self.do_rescale = do_rescale
        self.rescale_factor = rescale_factor
        self.do_normalize = do_normalize
        self.image_mean = _per_channel(IMAGENET_DEFAULT_MEAN if image_mean is None else image_mean, "image_mean")
        self.image_std = _per_channel(IMAGENET_DEFAULT_STD if image_std is None else image_std, "image_std")

    def __call__(
        self,
        videos: VideoInput | list[VideoInput],
        return_tensors: str | TensorType | None = None,
        num_frames: int | None = None,
        fps: float | None = None,
        do_sample_frames: bool | None = None,
    ) -> BatchFeature:
        """
        Preprocesses one video or a batch of videos.

        Args:
            videos (`str`, `os.PathLike`, `np.ndarray`, `torch.Tensor`, or a list of them):
                Video files, or RGB frames of shape `[T, H, W, 3]` (`uint8`, or floating point in `[0, 1]`). A single
                video makes a batch of one; so does a `[B, T, H, W, 3]` array, of `B`.
            return_tensors (`str` or [`~utils.TensorType`], *optional*):
                `"pt"` for PyTorch tensors, `"np"` or `None` for NumPy arrays.
            num_frames (`int`, *optional*):
                Overrides `self.num_frames` for this call.
            fps (`float`, *optional*):
                Overrides `self.fps` for this call (for video files only: frames in memory given with `fps` raise).
            do_sample_frames (`bool`, *optional*):
                Overrides `self.do_sample_frames` for this call. With `False`, `num_frames` and `fps` are not used, and
                each video must be frames in memory, all real: for frames from [`load_video`], pass
                `frames[mask.astype(bool)]`, without its padding frames.

        Returns:
            [`BatchFeature`]: with `pixel_values_videos`, float32 of shape `[B, T, 3, height, width]`, and
            `video_attention_mask`, int64 of shape `[B, T]` (1 for a real frame, 0 for padding).

        Raises:
            [`InvalidVideoError`]: for a video that cannot be used; the message starts with its index, `videos[i]`.
            `ValueError`: for invalid sampling arguments, a video file with `do_sample_frames=False`, an empty batch,
            or frames of different sizes and no resizing.
        """
        num_frames = self.num_frames if num_frames is None else num_frames
        do_sample_frames = self.do_sample_frames if do_sample_frames is None else do_sample_frames
        videos = _as_video_list(videos)
        clips = []
        for index, video in enumerate(videos):
            try:
                frames, mask = self._load(video, num_frames, fps, do_sample_frames)
            except InvalidVideoError as err:
                raise InvalidVideoError(f"videos[{index}]: {err}") from err
            # The real frames come first, the padding after: a view of them, not a copy.
            clips.append((frames[: int(mask.sum())], len(mask)))
        shapes = {self._output_shape(frames) for frames, _ in clips}
        if len(shapes) > 1:
            sizes = ", ".join(f"videos[{i}]: {list(frames.shape[1:3])}" for i, (frames, _) in enumerate(clips))
            raise ValueError(f"Frames of different sizes cannot be batched without `do_resize` ({sizes}).")
        # The batch is filled in place, a few frames at a time, so that a long clip sampled densely costs its output
        # and the decoded frames, not several float copies of itself.
        pixel_values = torch.zeros(len(clips), max(length for _, length in clips), 3, *shapes.pop())
        video_attention_mask = np.zeros(pixel_values.shape[:2], dtype=np.int64)
        for index in range(len(clips)):
            frames, _ = clips[index]
            for start in range(0, len(frames), _PREPROCESS_CHUNK_FRAMES):
                chunk = frames[start : start + _PREPROCESS_CHUNK_FRAMES]
                pixel_values[index, start : start + len(chunk)] = self._preprocess(chunk)
            video_attention_mask[index, : len(frames)] = 1
            clips[index] = None  # the decoded frames of a clip go as soon as it is in the batch
        data = {"pixel_values_videos": pixel_values.numpy(), "video_attention_mask": video_attention_mask}
        return BatchFeature(data, tensor_type=return_tensors)

    def _output_shape(self, frames: np.ndarray) -> tuple[int, int]:
        """The `(height, width)` that `frames` `[T, H, W, 3]` have after preprocessing."""
        return (self.size["height"], self.size["width"]) if self.do_resize else tuple(frames.shape[1:3])

    def _load(
        self, video: VideoInput, num_frames: int | None, fps: float | None, do_sample_frames: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decodes and samples one video (or takes frames already sampled) into `uint8` frames `[T, H, W, 3]` and
        their mask `[T]`. `fps` is the call's: files fall back on `self.fps`, frames in memory (which have no frame
        rate) refuse it and otherwise take `num_frames`."""
        if isinstance(video, (str, os.PathLike)):
            if not do_sample_frames:
                raise ValueError(
                    f"`do_sample_frames=False` takes frames in memory, but {os.fspath(video)!r} is a video file: "
                    "files are always sampled (decode it with `load_video` to choose its frames)."
                )
            return load_video(video, num_frames=num_frames, fps=self.fps if fps is None else fps)
        if isinstance(video, (np.ndarray, torch.Tensor)):
            if not do_sample_frames:
                return sample_frames(video, num_frames=None)
            if fps is not None:
                raise InvalidVideoError(
                    "Frames in memory have no frame rate: sample them with `num_frames`, not `fps`."
                )
            if num_frames is None:
                raise ValueError("Frames in memory need `num_frames`.")
            return sample_frames(video, num_frames)
        raise InvalidVideoError(
            f"Expected a video path or frames of shape [T, H, W, 3], got an object of type {type(video).__name__}."
        )

    def _preprocess(self, frames: np.ndarray) -> torch.Tensor:
        """Resizes, rescales and normalizes `uint8` frames `[T, H, W, 3]` into float32 `[T, 3, height, width]`."""
        # Contiguous for torch (frames given as `bgr[..., ::-1]` have negative strides): a copy of the chunk only then.
        pixels = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        if self.do_resize:
            pixels = F.interpolate(
                pixels,
                size=(self.size["height"], self.size["width"]),
                mode=self.resample,
                antialias=self.resample in _ANTIALIASED_MODES,
            ).clamp_(0, 255)
        if self.do_rescale:
            pixels.mul_(self.rescale_factor)
        if self.do_normalize:
            pixels.sub_(torch.tensor(self.image_mean).view(1, 3, 1, 1))
            pixels.div_(torch.tensor(self.image_std).view(1, 3, 1, 1))
        return pixels


def _per_channel(value: float | list[float], name: str) -> list[float]:
    """Returns a per-channel (RGB) list from a scalar or a list of 3 values."""
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) != 3:
        raise ValueError(f"`{name}` must be a number or 3 numbers (RGB), got {value!r}.")
    return values


def _as_video_list(videos: VideoInput | list[VideoInput]) -> list[VideoInput]:
    """Turns the accepted forms of `videos` into a list of single videos."""
    if isinstance(videos, (np.ndarray, torch.Tensor)) and videos.ndim == 5:
        return list(videos)
    # Any sequence of videos: a list, or a `datasets` column (`dataset["video_path"]`, a lazy `Column` in datasets 5).
    if isinstance(videos, (str, bytes, os.PathLike, np.ndarray, torch.Tensor)) or not isinstance(videos, Sequence):
        return [videos]
    if not videos:
        raise ValueError("`videos` is an empty list.")
    return list(videos)
