"""Tests of video decoding and frame sampling (`load_video`, `check_video`, `sample_frames`)."""

import time

import av
import numpy as np
import pytest
import torch

from hf_vidcap.processing import InvalidVideoError, check_video, load_video, sample_frames

from .video_factory import counter_frames, frame_colour, frame_indices


# Frame `i` is the centre of segment `i` of `24 / N` frames: floor((i + 0.5) * 24 / N).
UNIFORM_8_OF_24 = [1, 4, 7, 10, 13, 16, 19, 22]


@pytest.mark.parametrize("name", ["counter", "counter_mkv", "counter_raw", "counter_variable_rate_mkv", "counter_mpg"])
def test_uniform_sampling_picks_segment_centres(videos, name):
    # mp4 reports its frame count; the others do not, and their packets are counted. Duration times average rate would
    # count 60 frames in the variable-rate mkv (a "truncated" file) and 1 in the mpg (one frame and padding).
    frames, mask = load_video(videos[name], num_frames=8)
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == np.uint8
    assert mask.dtype == np.int64 and mask.tolist() == [1] * 8
    assert frame_indices(frames) == UNIFORM_8_OF_24


def test_frames_are_rgb(videos):
    frames, _ = load_video(videos["counter"], num_frames=2)
    # Frames 6 and 18.
    for frame, index in zip(frames, [6, 18], strict=True):
        assert np.abs(frame.reshape(-1, 3).mean(0) - frame_colour(index)).max() < 4


def test_all_frames_when_asking_for_as_many(videos):
    frames, mask = load_video(videos["counter"], num_frames=24)
    assert frame_indices(frames) == list(range(24)) and mask.sum() == 24


def test_short_video_is_padded_with_black_frames(videos):
    frames, mask = load_video(videos["short"], num_frames=8)
    assert frames.shape == (8, 32, 32, 3)
    assert mask.tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    assert frame_indices(frames[:5]) == [0, 1, 2, 3, 4]
    assert not frames[5:].any()


@pytest.mark.parametrize(
    "fps, expected",
    [
        (8, [0, 3, 6, 9, 12, 15, 18, 21]),  # every 3rd frame of a 24 fps video
        (5, [0, 4, 9, 14, 19]),  # frames at 0, 0.2, 0.4, 0.6, 0.8 s
        (48, list(range(24))),  # faster than the video: every frame once
    ],
)
def test_fps_sampling(videos, fps, expected):
    frames, mask = load_video(videos["counter"], num_frames=None, fps=fps)
    assert frame_indices(frames) == expected
    assert mask.tolist() == [1] * len(expected)


def test_fps_sampling_capped_spreads_over_the_whole_video(videos):
    # 8 fps would give 8 frames; capped at 4 they are spread uniformly: floor((i + 0.5) * 6).
    frames, mask = load_video(videos["counter"], num_frames=None, fps=8, max_frames=4)
    assert frame_indices(frames) == [3, 9, 15, 21] and mask.tolist() == [1] * 4
    frames, _ = load_video(videos["counter"], num_frames=4, fps=8)
    assert frame_indices(frames) == [3, 9, 15, 21]


def test_fps_sampling_is_not_padded(videos):
    frames, mask = load_video(videos["short"], num_frames=16, fps=8)
    assert frame_indices(frames) == [0, 3] and mask.tolist() == [1, 1]


class _CountingContainer:
    """Wraps a PyAV container and counts the frames decoded from it."""

    decoded = 0

    def __init__(self, container):
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._container.close()

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            _CountingContainer.decoded += 1
            yield frame


def test_decoding_stops_at_the_last_needed_frame(videos, monkeypatch):
    real_open = av.open
    monkeypatch.setattr(_CountingContainer, "decoded", 0)
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: _CountingContainer(real_open(*args, **kwargs)))
    frames, _ = load_video(videos["counter"], num_frames=2)
    assert frame_indices(frames) == [6, 18]
    assert _CountingContainer.decoded == 19  # frames 0 to 18 of 24


def test_slightly_short_stream_is_sampled_again(videos):
    # The container announces 24 frames, the last 2 are missing: sample uniformly from the 22 decoded.
    frames, mask = load_video(videos["two_frames_short_mkv"], num_frames=8)
    assert frame_indices(frames) == [1, 4, 6, 9, 12, 15, 17, 20] and mask.sum() == 8


def test_frames_a_player_hides_are_not_a_truncation(videos):
    """Fewer frames decode than the container counts, but the packets run to the end: a clip cut without re-encoding
    (its first 10 frames hidden by an edit list) shows frames 10 to 23; an AVI whose every 4th frame is an empty chunk
    (a repeated picture) shows the other 18."""
    frames, mask = load_video(videos["cut_counter"], num_frames=8)
    assert frame_indices(frames) == [10, 12, 14, 16, 17, 19, 21, 23] and mask.sum() == 8
    frames, mask = load_video(videos["counter_empty_chunks"], num_frames=6)
    shown = [index for index in range(24) if index % 4 != 3]
    assert frame_indices(frames) == [shown[round(i)] for i in np.arange(6) * 3 + 1] and mask.sum() == 6


def test_a_video_track_shorter_than_its_audio_is_not_a_truncation(videos):
    """The container's duration is the 5 s of audio; the 24 frames end at 1 s, and no count is kept (MKV)."""
    frames, mask = load_video(videos["longer_audio_mkv"], num_frames=8)
    assert frame_indices(frames) == UNIFORM_8_OF_24 and mask.sum() == 8


def test_frames_come_upright_as_a_player_shows_them(videos):
    """A phone's portrait video is stored sideways (32 wide, 48 high here) with a quarter turn clockwise to display."""
    frames, _ = load_video(videos["rotated"], num_frames=2)
    assert frames.shape == (2, 32, 48, 3)
    assert frames[:, :8, -8:].mean() > 240  # the stored top-left corner, turned to the top right
    assert frames[:, :8, :8].mean() < 200


def test_the_video_track_is_read_not_a_still_picture_before_it(videos):
    frames, mask = load_video(videos["cover_art_first"], num_frames=8)
    assert frame_indices(frames) == UNIFORM_8_OF_24 and mask.sum() == 8


# Every kind of bad file, with what the error says about it.
BAD_VIDEOS = [
    ("missing", "does not exist"),
    ("directory", "is a directory"),
    ("text", "cannot be opened as a video"),
    ("random", "cannot be opened as a video"),
    ("truncated_head", "cannot be opened as a video"),
    ("truncated_faststart", "truncated or corrupt: its container announces 1.00 s but its packets end at 0.58 s"),
    ("truncated_mkv", "truncated or corrupt: its container announces 1.00 s but its packets end at 0.58 s"),
    ("corrupt_mp4", "truncated or corrupt: decoding failed"),
    ("audio", "has no video stream (streams found: audio)"),
    ("undecodable_mkv", "has no decodable frame"),
    ("picture", "is an image (png_pipe), not a video"),
]


@pytest.mark.parametrize("name, problem", BAD_VIDEOS)
def test_bad_video_raises_invalid_video_error(videos, name, problem):
    start = time.monotonic()
    with pytest.raises(InvalidVideoError) as info:
        load_video(videos[name])
    assert time.monotonic() - start < 5
    assert str(videos[name]) in str(info.value) and problem in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name, problem", BAD_VIDEOS)
def test_check_video_finds_every_bad_video_without_decoding_it(videos, name, problem, monkeypatch):
    real_open = av.open
    monkeypatch.setattr(_CountingContainer, "decoded", 0)
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: _CountingContainer(real_open(*args, **kwargs)))
    with pytest.raises(InvalidVideoError) as info:
        check_video(videos[name])
    assert str(videos[name]) in str(info.value) and problem in str(info.value)
    assert _CountingContainer.decoded <= 1  # a truncated MP4 is found from its packets, not by decoding it


@pytest.mark.parametrize(
    "name",
    ["counter", "counter_mkv", "counter_variable_rate_mkv", "counter_mpg", "two_frames_short_mkv", "cut_counter",
     "counter_empty_chunks", "rotated", "cover_art_first", "longer_audio_mkv"],
)  # fmt: skip
def test_check_video_passes_what_load_video_reads_decoding_one_frame(videos, name, monkeypatch):
    real_open = av.open
    monkeypatch.setattr(_CountingContainer, "decoded", 0)
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: _CountingContainer(real_open(*args, **kwargs)))
    check_video(videos[name])
    assert _CountingContainer.decoded == 1


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"num_frames": 0}, "`num_frames` must be a positive integer"),
        ({"num_frames": -3}, "`num_frames` must be a positive integer"),
        ({"num_frames": 2.5}, "`num_frames` must be a positive integer"),
        ({"num_frames": None}, "Give `num_frames` or `fps`"),
        ({"fps": 0}, "`fps` must be a positive number"),
        ({"fps": 2, "max_frames": 0}, "`max_frames` must be a positive integer"),
        ({"max_frames": 4}, "`max_frames` only applies with `fps`"),
    ],
)
def test_invalid_sampling_arguments(videos, kwargs, problem):
    with pytest.raises(ValueError, match=problem) as info:
        load_video(videos["counter"], **kwargs)
    assert not isinstance(info.value, InvalidVideoError)


def test_sample_frames_from_memory():
    frames = counter_frames(24)
    for video in (frames, torch.from_numpy(frames), frames.astype(np.float32) / 255):
        sampled, mask = sample_frames(video, num_frames=8)
        assert sampled.dtype == np.uint8 and sampled.shape == (8, 32, 32, 3)
        assert frame_indices(sampled) == UNIFORM_8_OF_24 and mask.tolist() == [1] * 8
        np.testing.assert_array_equal(sampled, frames[UNIFORM_8_OF_24])
    sampled, mask = sample_frames(frames[:3], num_frames=5)
    assert mask.tolist() == [1, 1, 1, 0, 0] and not sampled[3:].any()


@pytest.mark.parametrize(
    "frames, problem",
    [
        (np.zeros((4, 32, 32), np.uint8), r"shape \[T, H, W, 3\].*got \[4, 32, 32\]"),
        (np.zeros((4, 3, 32, 32), np.uint8), r"channels last.*got \[4, 3, 32, 32\]"),
        (np.zeros((0, 32, 32, 3), np.uint8), "hold no pixel"),
        (np.full((4, 8, 8, 3), 1.5, np.float32), r"values in \[0, 1\]"),
        (np.zeros((4, 8, 8, 3), np.int32), "dtype int32"),
    ],
)
def test_sample_frames_rejects_bad_arrays(frames, problem):
    with pytest.raises(InvalidVideoError, match=problem):
        sample_frames(frames)
