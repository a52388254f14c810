"""Video decoding and frame sampling with PyAV.

A video becomes a fixed or variable number of RGB frames:

- `num_frames=N` (the default): `N` frames sampled uniformly over the whole video, one at the centre of each of `N`
  equal segments. A video with fewer than `N` frames gives all its frames followed by black padding frames, and
  the returned mask marks real frames with 1 and padding with 0.
- `fps=f`: one frame every `1 / f` seconds from the start (all frames when `f` is at or above the video's frame
  rate). When that gives more frames than the cap (`max_frames`, else `num_frames`), the cap's number of frames is
  sampled uniformly over the whole video instead, as with `num_frames`. Frames are stepped through at the video's
  average frame rate, so a variable-rate video is sampled evenly by frame, not by time.

Frames come from the video track FFmpeg would pick (not a cover picture before it), upright as a player shows them
(the display rotation phones store portrait video with is applied). Decoding stops at the last frame needed. Frame
indices come from the frame count the container reports or, when it keeps none (MKV, WebM, MPEG), from counting the
stream's packets, which reads the file without decoding it.

Every problem with the input raises [`InvalidVideoError`], whose message names the file and the problem. A file
whose packets end clearly (more than `max(2, 5%)` frames) before the duration its container announces is truncated
and raises too. A file that decodes to fewer frames than its container announces but whose packets run to the end
(frames hidden by an edit list, as `ffmpeg -ss ... -c copy` cuts, or empty AVI chunks that repeat a frame) is
sampled again from the frames actually decoded.
"""

import math
import os
from numbers import Integral, Real

import av
import numpy as np
import torch
from transformers.utils import logging


logger = logging.get_logger(__name__)

# The largest accepted shortfall between the frame count a container announces and the frames its decoder returns.
_MIN_FRAME_SHORTFALL = 2
_RELATIVE_FRAME_SHORTFALL = 0.05


class InvalidVideoError(ValueError):
    """
    Raised for video input that cannot be used: a missing file, a file that is not a video, a truncated or corrupt
    video, a video without frames, or an array of the wrong shape or type. The message names the input (its path, or
    its index in a batch) and the problem.
    """


def load_video(
    video: str | os.PathLike,
    num_frames: int | None = 16,
    fps: float | None = None,
    max_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """
    Decodes a video file and samples its frames.

    Args:
        video (`str` or `os.PathLike`):
            Path to a local video file in any container and codec FFmpeg reads.
        num_frames (`int`, *optional*, defaults to 16):
            Number of frames sampled uniformly over the whole video; shorter videos are padded with black frames. With
            `fps`, the largest number of frames returned unless `max_frames` is given.
        fps (`float`, *optional*):
            If given, frames are taken at this rate (frames per second) instead, and not padded.
        max_frames (`int`, *optional*):
            With `fps`, the largest number of frames returned; longer videos get this many frames sampled uniformly.

    Returns:
        `tuple[np.ndarray, np.ndarray]`: the frames, `uint8` of shape `[T, H, W, 3]` (RGB), and the mask, `int64` of
        shape `[T]`, 1 for a decoded frame and 0 for a padding frame. `T == num_frames` without `fps`.

    Raises:
        `ValueError`: if the sampling arguments are invalid.
        [`InvalidVideoError`]: if the file is missing, is not a regular file, cannot be opened as a video, has no video
        stream, has no decodable frame, or is truncated or corrupt.
    """
    check_sampling_arguments(num_frames, fps, max_frames)
    path = _check_file(video)
    frame_count, frame_rate = _probe(path)
    if fps is not None and not frame_rate:
        raise InvalidVideoError(f"Video {path!r} does not report a frame rate: sample it with `num_frames` instead.")
    indices = _sample_indices(frame_count, frame_rate, num_frames, fps, max_frames)
    frames, decoded = _decode_frames(path, indices)
    if len(frames) < len(indices):
        if decoded == 0:
            raise InvalidVideoError(f"Video {path!r} has no decodable frame.")
        if frame_count - decoded > _tolerated_shortfall(frame_count):
            with _open(path) as container:
                _, end = _count_packets(container, _video_stream(container, path), path)
                ends_on_time = _check_packets_end_on_time(container, end, frame_rate, path)
            if not ends_on_time:
                raise InvalidVideoError(
                    f"Video {path!r} is truncated or corrupt: its container announces {frame_count} frames but only "
                    f"{decoded} could be decoded."
                )
        logger.info(f"Video {path!r} has {decoded} frames, not the {frame_count} announced: sampling again.")
        indices = _sample_indices(decoded, frame_rate, num_frames, fps, max_frames)
        frames, _ = _decode_frames(path, indices)
    return _pad_frames(frames, num_frames if fps is None else None)


def check_video(video: str | os.PathLike) -> None:
    """
    Checks that a video file can be read, decoding no more than its first frame: a test cheap enough to run over a
    whole dataset before training on it, which would otherwise stop at the first batch holding a bad file. The file's
    packets are read without decoding them, so a file cut short is found too.

    Args:
        video (`str` or `os.PathLike`):
            Path to a local video file.

    Raises:
        [`InvalidVideoError`]: if the file is missing, is not a regular file, cannot be opened as a video, has no video
        stream, is truncated (its packets end clearly before its announced duration) or has no decodable first frame.
        A file whose later packets hold corrupt data passes; [`load_video`] raises when it decodes them.
    """
    path = _check_file(video)
    _probe(path, count_packets=True)
    _, decoded = _decode_frames(path, np.zeros(1, dtype=np.int64))
    if decoded == 0:
        raise InvalidVideoError(f"Video {path!r} has no decodable frame.")


def sample_frames(frames: np.ndarray | torch.Tensor, num_frames: int | None = 16) -> tuple[np.ndarray, np.ndarray]:
    """
    Samples in-memory frames the way [`load_video`] samples a file with `num_frames`.

    Args:
        frames (`np.ndarray` or `torch.Tensor` of shape `[T, H, W, 3]`):
            RGB frames, `uint8`, or floating point in `[0, 1]` (converted to `uint8`).
        num_frames (`int`, *optional*, defaults to 16):
            Number of frames sampled uniformly; shorter inputs are padded with black frames. `None` keeps every frame.

    Returns:
        `tuple[np.ndarray, np.ndarray]`: the frames, `uint8` of shape `[num_frames, H, W, 3]` (`[T, H, W, 3]` with
        `num_frames=None`), and the mask, `int64` of shape `[num_frames]` (`[T]`), 1 for a real frame and 0 for a
        padding frame.

    Raises:
        `ValueError`: if `num_frames` is invalid.
        [`InvalidVideoError`]: if the frames have the wrong shape, no frame, the wrong dtype, or values outside
        `[0, 1]` for floating point input.
    """
    if num_frames is not None:
        check_sampling_arguments(num_frames, None, None)
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu()
        frames = (frames.float() if frames.is_floating_point() else frames).numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidVideoError(f"Frames must have shape [T, H, W, 3] (RGB, channels last), got {list(frames.shape)}.")
    if 0 in frames.shape:
        raise InvalidVideoError(f"Frames of shape {list(frames.shape)} hold no pixel.")
    if np.issubdtype(frames.dtype, np.floating):
        if not (np.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1):
            raise InvalidVideoError("Floating point frames must have values in [0, 1].")
        frames = np.round(frames * 255).astype(np.uint8)
    elif frames.dtype != np.uint8:
        raise InvalidVideoError(f"Frames must be uint8 or floating point in [0, 1], got dtype {frames.dtype}.")
    if num_frames is None:
        return frames, np.ones(len(frames), dtype=np.int64)
    return _pad_frames(frames[_uniform_indices(len(frames), num_frames)], num_frames)


def check_sampling_arguments(num_frames: int | None, fps: float | None, max_frames: int | None) -> None:
    """Raises a `ValueError` for a sampling request that makes no sense."""
    if num_frames is None and fps is None:
        raise ValueError("Give `num_frames` or `fps` to sample a video, got neither.")
    for name, value in (("num_frames", num_frames), ("max_frames", max_frames)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, Integral) or value <= 0):
            raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, Real) or not fps > 0):
        raise ValueError(f"`fps` must be a positive number, got {fps!r}.")
    if max_frames is not None and fps is None:
        raise ValueError("`max_frames` only applies with `fps`; use `num_frames` for uniform sampling.")


def _check_file(video: str | os.PathLike) -> str:
    """Returns `video` as a `str` path, raising [`InvalidVideoError`] unless it names an existing regular file."""
    path = os.fspath(video)
    if not os.path.exists(path):
        raise InvalidVideoError(f"Video file {path!r} does not exist.")
    if os.path.isdir(path):
        raise InvalidVideoError(f"Video path {path!r} is a directory, not a video file.")
    if not os.path.isfile(path):
        raise InvalidVideoError(f"Video path {path!r} is not a regular file.")
    return path


def _open(path: str) -> av.container.InputContainer:
    """Opens a file with PyAV, raising [`InvalidVideoError`] for a file FFmpeg cannot read."""
    try:
        return av.open(path)
    except av.error.FFmpegError as err:
        raise InvalidVideoError(f"File {path!r} cannot be opened as a video: {err.strerror or err}.") from err


def _video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    """Returns the video stream FFmpeg would pick, as players do: one of moving pictures over a still one (cover art,
    a thumbnail track), then the one of most frames and the highest bit rate.

    Raises:
        [`InvalidVideoError`]: for an image file (a picture named as a video) or a file without a video stream.
    """
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise InvalidVideoError(f"File {path!r} is an image ({container.format.name}), not a video.")
    stream = container.streams.best("video")
    if stream is None:
        kinds = sorted({stream.type for stream in container.streams}) or ["none"]
        raise InvalidVideoError(f"File {path!r} has no video stream (streams found: {', '.join(kinds)}).")
    return stream


def _probe(path: str, count_packets: bool = False) -> tuple[int, float | None]:
    """Returns the number of frames of a video file and its average frame rate (`None` when unknown).

    The count is the container's own when it keeps one (MP4, MOV, AVI). Otherwise the stream's packets are counted,
    without decoding them: duration times average rate is no count for a variable frame rate, and FFmpeg can
    underestimate the duration of an MPEG stream to one frame. Packets that end clearly before the duration the
    container announces mean a truncated file. With `count_packets`, the packets are counted even when the container
    keeps a count, and packets clearly fewer than it are checked the same way: a truncated MP4 is found without
    decoding it."""
    with _open(path) as container:
        stream = _video_stream(container, path)
        rate = stream.average_rate or stream.guessed_rate
        frame_rate = float(rate) if rate else None
        frame_count = stream.frames
        if frame_count <= 0 or count_packets:
            packets, end = _count_packets(container, stream, path)
            if packets and (frame_count <= 0 or frame_count - packets > _tolerated_shortfall(frame_count)):
                _check_packets_end_on_time(container, end, frame_rate, path)
            frame_count = frame_count if frame_count > 0 else packets
    if frame_count == 0:
        raise InvalidVideoError(f"Video {path!r} has no decodable frame.")
    return frame_count, frame_rate


def _tolerated_shortfall(frame_count: float) -> float:
    """How many frames a video may lack beside what its container announces before it counts as truncated."""
    return max(_MIN_FRAME_SHORTFALL, _RELATIVE_FRAME_SHORTFALL * frame_count)


def _check_packets_end_on_time(
    container: av.container.InputContainer, end: float | None, frame_rate: float | None, path: str
) -> bool:
    """Raise [`InvalidVideoError`] for a file whose packets end clearly before the duration its container announces (a
    truncated file ends early in time; a variable-rate one, or one with hidden frames, ends where its duration says).

    Returns:
        `bool`: whether the check could be made: `False` without a duration, a frame rate or packet timestamps.
    """
    duration = container.duration / av.time_base if container.duration else None
    if not (duration and end is not None and frame_rate):
        return False
    # Half a frame more is allowed for timestamps rounded to the millisecond, as MKV keeps them.
    missing_frames = (duration - end) * frame_rate - 0.5
    if missing_frames > _tolerated_shortfall(duration * frame_rate):
        raise InvalidVideoError(
            f"Video {path!r} is truncated or corrupt: its container announces {duration:.2f} s but its packets end at "
            f"{end:.2f} s."
        )
    return True


def _count_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, path: str
) -> tuple[int, float | None]:
    """The number of non-empty packets of `stream`, and the time in seconds at which the packets of all the file's
    streams end (`None` when they carry no timestamps). A truncated file ends early in every stream; a video track
    shorter than the audio beside it, or starting later than the file, is not cut short."""
    count, end = 0, None
    try:
        for packet in container.demux():
            if not packet.size:
                continue
            count += packet.stream.index == stream.index
            if packet.pts is not None and packet.time_base:
                packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                end = packet_end if end is None else max(end, packet_end)
    except av.error.FFmpegError as err:
        raise InvalidVideoError(f"Video {path!r} cannot be read: {err.strerror or err}.") from err
    return count, end


def _decode_frames(path: str, indices: np.ndarray) -> tuple[np.ndarray, int]:
    """
    Decodes the frames at the given sorted indices, stopping after the last one.

    Returns:
        `tuple[np.ndarray, int]`: the frames found (fewer than asked when the stream ends first), `uint8` of shape
        `[T, H, W, 3]` (written into one array as they come, not stacked from copies afterwards), and the number of
        frames decoded.
    """
    wanted = set(indices.tolist())
    last = int(indices[-1])
    frames, found, decoded = np.empty((0, 0, 0, 3), dtype=np.uint8), 0, 0
    with _open(path) as container:
        stream = _video_stream(container, path)
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        try:
            for frame in container.decode(stream):
                if decoded in wanted:
                    pixels = frame.to_ndarray(format="rgb24", width=width or None, height=height or None)
                    # Upright, as players show it: phones store portrait video sideways with a display rotation.
                    pixels = np.rot90(pixels, k=round(frame.rotation / 90)) if frame.rotation else pixels
                    if not found:
                        frames = np.empty((len(indices), *pixels.shape), dtype=np.uint8)
                    frames[found] = pixels
                    found += 1
                decoded += 1
                if decoded > last:
                    break
        except av.error.FFmpegError as err:
            raise InvalidVideoError(
                f"Video {path!r} is truncated or corrupt: decoding failed after {decoded} frames "
                f"({err.strerror or err})."
            ) from err
    return frames[:found], decoded


def _sample_indices(
    frame_count: int, frame_rate: float | None, num_frames: int | None, fps: float | None, max_frames: int | None
) -> np.ndarray:
    """Returns the sorted, distinct indices of the frames to keep (see the module docstring)."""
    if fps is None:
        return _uniform_indices(frame_count, num_frames)
    step = max(frame_rate / fps, 1.0)
    count = math.ceil(frame_count / step - 1e-6)
    limit = max_frames if max_frames is not None else num_frames
    if limit is not None and count > limit:
        return _uniform_indices(frame_count, limit)
    return np.floor(np.arange(count) * step + 1e-6).astype(np.int64)


def _uniform_indices(frame_count: int, num_frames: int) -> np.ndarray:
    """Indices of the frames at the centres of `num_frames` equal segments, or all frames if there are fewer."""
    if frame_count <= num_frames:
        return np.arange(frame_count)
    return np.floor((np.arange(num_frames) + 0.5) * frame_count / num_frames).astype(np.int64)


def _pad_frames(frames: np.ndarray, length: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Pads `[T, H, W, 3]` frames with black frames up to `length` and returns them with their mask."""
    padding = 0 if length is None else max(length - len(frames), 0)
    mask = np.concatenate([np.ones(len(frames), dtype=np.int64), np.zeros(padding, dtype=np.int64)])
    if padding:
        frames = np.concatenate([frames, np.zeros((padding, *frames.shape[1:]), dtype=np.uint8)])
    return frames, mask
