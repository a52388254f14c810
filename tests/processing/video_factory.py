"""Small real video files for the processing tests, written with PyAV.

Frame `i` of a counter video is a flat colour, R = 10 i, G = 230 - 10 i, B = 200 (at most 24 frames), so the index of a
decoded frame can be read back from its pixels: lossless x264 keeps colours within a few levels. A noisy counter video
has random noise in the bottom half of its frames, so that its packets are large and cutting the file loses frames.
"""

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hf_vidcap.data.synthetic import write_video as encode_video


FRAME_RATE = 24
SIZE = 32


def frame_colour(index: int) -> tuple[int, int, int]:
    """The RGB colour of frame `index` of a counter video."""
    return 10 * index, 230 - 10 * index, 200


def counter_frames(count: int, size: int = SIZE, noisy: bool = False) -> np.ndarray:
    """`count` counter frames, uint8 `[count, size, size, 3]`, with noise in their bottom half if `noisy`."""
    frames = np.empty((count, size, size, 3), dtype=np.uint8)
    for index in range(count):
        frames[index] = frame_colour(index)
    if noisy:
        frames[:, size // 2 :] = np.random.default_rng(0).integers(0, 256, frames[:, size // 2 :].shape)
    return frames


def frame_indices(frames: np.ndarray) -> list[int]:
    """Reads back the counter index of each frame `[H, W, 3]` of `frames` from the red channel of its top rows."""
    return [round(float(frame[: len(frame) // 4, :, 0].mean()) / 10) for frame in frames]


def write_video(
    path: Path, frames: np.ndarray, container_format: str | None = None, container_options: dict | None = None
) -> Path:
    """Encodes uint8 RGB frames `[T, H, W, 3]` losslessly with x264 at `FRAME_RATE` frames per second."""
    encode_video(
        frames, path, fps=FRAME_RATE, crf=0, container_format=container_format, container_options=container_options
    )
    return path


def write_variable_rate_video(path: Path, frames: np.ndarray) -> Path:
    """Encodes frames losslessly with x264 at a variable rate: the first half 20 ms apart, the rest 200 ms apart (the
    container's duration times its average rate is then no frame count)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FRAME_RATE, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        gaps = [20 if index < len(frames) // 2 else 200 for index in range(len(frames))]  # milliseconds
        for pixels, pts in zip(frames, np.cumsum([0, *gaps[:-1]]).tolist()):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_audio(path: Path) -> Path:
    """Writes an audio-only file (half a second of silence, AAC)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for index in range(8):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, index * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def truncate(source: Path, path: Path, fraction: float) -> Path:
    """Writes the first `fraction` of the bytes of `source` to `path`."""
    data = source.read_bytes()
    path.write_bytes(data[: round(len(data) * fraction)])
    return path


def drop_last_packets(source: Path, path: Path, count: int) -> Path:
    """Writes `source` cut just before its last `count` video packets: the container still announces them."""
    with av.open(str(source)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.size]
    return truncate(source, path, positions[-count] / source.stat().st_size)


def zero_packets(source: Path, path: Path) -> Path:
    """Copies a video, overwriting the payload of each of its video packets with zeros: nothing decodes."""
    with av.open(str(source)) as container:
        spans = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    data = bytearray(source.read_bytes())
    for position, size in spans:
        data[position : position + size] = bytes(size)
    path.write_bytes(bytes(data))
    return path


def write_test_videos(folder: Path) -> dict[str, Path]:
    """Writes every test video into `folder` and returns their paths by name."""
    folder.mkdir(parents=True, exist_ok=True)
    videos = {
        "counter": write_video(folder / "counter.mp4", counter_frames(24)),
        "counter_mkv": write_video(folder / "counter.mkv", counter_frames(24)),
        "counter_raw": write_video(folder / "counter.h264", counter_frames(24), container_format="h264"),
        "counter_variable_rate_mkv": write_variable_rate_video(folder / "variable_rate.mkv", counter_frames(24)),
        "counter_mpg": folder / "counter.mpg",
        "short": write_video(folder / "short.mp4", counter_frames(5)),
        "wide": write_video(folder / "wide.mp4", counter_frames(6, size=48)),
        "noisy_faststart": write_video(
            folder / "noisy_faststart.mp4", counter_frames(24, noisy=True), container_options={"movflags": "faststart"}
        ),
        "noisy_mkv": write_video(folder / "noisy.mkv", counter_frames(24, noisy=True)),
        "audio": write_audio(folder / "audio.m4a"),
        "directory": folder / "a_directory.mp4",
        "missing": folder / "missing.mp4",
        "text": folder / "notes.mp4",
        "random": folder / "random.avi",
    }
    # MPEG-2 in a program stream, whose duration FFmpeg reads as one frame's.
    encode_video(counter_frames(24), videos["counter_mpg"], fps=FRAME_RATE, codec="mpeg2video", bit_rate=20_000_000)
    videos["directory"].mkdir()
    videos["text"].write_text("A man is playing a guitar.\nThis is not a video.\n")
    videos["random"].write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    videos["truncated_head"] = truncate(videos["counter"], folder / "truncated_head.mp4", 0.4)
    videos["truncated_faststart"] = truncate(videos["noisy_faststart"], folder / "truncated_faststart.mp4", 0.6)
    videos["truncated_mkv"] = truncate(videos["noisy_mkv"], folder / "truncated.mkv", 0.6)
    videos["two_frames_short_mkv"] = drop_last_packets(videos["noisy_mkv"], folder / "two_frames_short.mkv", 2)
    videos["corrupt_mp4"] = zero_packets(videos["counter"], folder / "zeroed.mp4")
    tiny = write_video(folder / "tiny.mkv", counter_frames(3))
    videos["undecodable_mkv"] = zero_packets(tiny, folder / "zeroed.mkv")
    assert all(os.path.exists(path) for name, path in videos.items() if name != "missing")
    return videos
