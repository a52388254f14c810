"""Small real video files for the processing tests, written with PyAV.

Frame `i` of a counter video is a flat colour, R = 10 i, G = 230 - 10 i, B = 200 (at most 24 frames), so the index of a
decoded frame can be read back from its pixels: lossless x264 keeps colours within a few levels. A noisy counter video
has random noise in the bottom half of its frames, so that its packets are large and cutting the file loses frames.
"""

import math
import os
import struct
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


def write_with_longer_audio(path: Path, frames: np.ndarray, audio_seconds: float) -> Path:
    """Encodes frames losslessly with x264 at `FRAME_RATE` beside `audio_seconds` of silent AAC, longer than the
    video: the container's duration is the audio's."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FRAME_RATE, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for pixels in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(video.encode())
        for index in range(math.ceil(audio_seconds * 16000 / 1024)):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, index * 1024
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
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


def cut_without_reencoding(source: Path, path: Path, hidden: int) -> Path:
    """Remuxes `source` with its first `hidden` frames hidden by an MP4 edit list, as `ffmpeg -ss ... -c copy` cuts a
    clip: decoding must start at the keyframe before the cut, so every packet is kept and the container counts them."""
    with av.open(str(source)) as original, av.open(str(path), "w") as cut:
        stream = original.streams.video[0]
        output = cut.add_stream_from_template(stream)
        shift = round(hidden / (stream.average_rate * stream.time_base))
        for packet in original.demux(stream):
            if packet.dts is not None:
                packet.pts, packet.dts, packet.stream = packet.pts - shift, packet.dts - shift, output
                cut.mux(packet)
    return path


def write_with_empty_chunks(path: Path, frames: np.ndarray, every: int) -> Path:
    """Writes an MJPEG AVI in which every `every`-th frame is an empty chunk, as capture tools mark a repeated frame:
    players hold the previous picture, and the container counts the chunk as a frame."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg", rate=FRAME_RATE)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuvj420p"
        for index, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                if index % every == every - 1:
                    empty = av.Packet(b"")
                    empty.pts, empty.dts, empty.time_base = packet.pts, packet.dts, packet.time_base
                    packet = empty
                packet.stream = stream
                container.mux(packet)
        container.mux(stream.encode())
    return path


def rotate_display(source: Path, path: Path) -> Path:
    """Copies an MP4, giving its video track the display matrix of a quarter turn clockwise, as phones store portrait
    video: the pictures are stored sideways and players turn them upright."""
    data = bytearray(source.read_bytes())
    header = data.find(b"tkhd") + 4  # version and flags, then times, ids and sizes before the matrix
    matrix = header + 4 + (32 if data[header] == 1 else 20) + 16
    data[matrix : matrix + 36] = struct.pack(">9i", 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
    path.write_bytes(bytes(data))
    return path


def write_cover_art_first(path: Path, frames: np.ndarray) -> Path:
    """Writes an MKV whose first video track is a single still picture (cover art), and whose second is `frames`."""
    with av.open(str(path), "w") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = frames.shape[2], frames.shape[1], "yuvj420p"
        video = container.add_stream("libx264", rate=FRAME_RATE, options={"crf": "0"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        container.mux(cover.encode(av.VideoFrame.from_ndarray(np.full_like(frames[0], 255), format="rgb24")))
        container.mux(cover.encode())
        for pixels in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(video.encode())
    return path


def write_picture(path: Path, pixels: np.ndarray) -> Path:
    """Writes one PNG picture to `path`, whatever its extension."""
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = pixels.shape[1], pixels.shape[0], "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
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
    videos["cut_counter"] = cut_without_reencoding(videos["counter"], folder / "cut.mp4", hidden=10)
    videos["counter_empty_chunks"] = write_with_empty_chunks(folder / "empty_chunks.avi", counter_frames(24), every=4)
    portrait = counter_frames(8, size=48)[:, :, :32].copy()  # stored 32 wide, 48 high ...
    portrait[:, :8, :8] = 255  # ... with a white corner top left
    videos["rotated"] = rotate_display(write_video(folder / "sideways.mp4", portrait), folder / "rotated.mp4")
    videos["cover_art_first"] = write_cover_art_first(folder / "cover_art_first.mkv", counter_frames(24))
    videos["picture"] = write_picture(folder / "picture.mp4", counter_frames(1)[0])
    videos["longer_audio_mkv"] = write_with_longer_audio(folder / "longer_audio.mkv", counter_frames(24), 5.0)
    tiny = write_video(folder / "tiny.mkv", counter_frames(3))
    videos["undecodable_mkv"] = zero_packets(tiny, folder / "zeroed.mkv")
    assert all(os.path.exists(path) for name, path in videos.items() if name != "missing")
    return videos
