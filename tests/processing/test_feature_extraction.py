"""Tests of the frame preprocessor (`VideoCaptioningFeatureExtractor`)."""

import json

import numpy as np
import pytest
import torch
from transformers import AutoFeatureExtractor, BatchFeature

from hf_vidcap.processing import (
    InvalidVideoError,
    VideoCaptioningFeatureExtractor,
    feature_extraction,
    load_video,
    register_processing_auto_classes,
)

from .video_factory import counter_frames, frame_colour


IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


def expected_pixels(index: int) -> np.ndarray:
    """The normalized RGB values of flat counter frame `index`, computed independently."""
    return (np.array(frame_colour(index)) / 255 - IMAGENET_MEAN) / IMAGENET_STD


def test_defaults():
    extractor = VideoCaptioningFeatureExtractor()
    assert extractor.num_frames == 16 and extractor.fps is None and extractor.do_sample_frames
    assert extractor.size == {"height": 112, "width": 112} and extractor.resample == "bilinear"
    assert extractor.do_resize and extractor.do_rescale and extractor.do_normalize
    assert extractor.rescale_factor == pytest.approx(1 / 255)
    np.testing.assert_allclose(extractor.image_mean, IMAGENET_MEAN)
    np.testing.assert_allclose(extractor.image_std, IMAGENET_STD)
    assert extractor.model_input_names == ["pixel_values_videos", "video_attention_mask"]


@pytest.mark.parametrize("chunk_frames", [64, 3])  # a chunk holds whole clips, or parts of them
def test_batch_of_files_and_arrays(videos, chunk_frames, monkeypatch):
    monkeypatch.setattr(feature_extraction, "_PREPROCESS_CHUNK_FRAMES", chunk_frames)
    extractor = VideoCaptioningFeatureExtractor(num_frames=8, size={"height": 16, "width": 24})
    frames = counter_frames(24)
    batch = extractor([videos["counter"], str(videos["short"]), frames], return_tensors="pt")
    assert isinstance(batch, BatchFeature)
    pixels, mask = batch["pixel_values_videos"], batch["video_attention_mask"]
    assert pixels.shape == (3, 8, 3, 16, 24) and pixels.dtype == torch.float32
    assert mask.dtype == torch.int64
    assert mask.tolist() == [[1] * 8, [1] * 5 + [0] * 3, [1] * 8]
    for row, indices in ((0, [1, 4, 7, 10, 13, 16, 19, 22]), (1, [0, 1, 2, 3, 4]), (2, [1, 4, 7, 10, 13, 16, 19, 22])):
        for position, index in enumerate(indices):
            # Flat frames stay flat through resizing; x264 keeps colours within a few levels.
            colour = pixels[row, position].mean(dim=(1, 2)).numpy()
            np.testing.assert_allclose(colour, expected_pixels(index), atol=4 / 255 / IMAGENET_STD.min())
    np.testing.assert_allclose(
        pixels[2].mean(dim=(2, 3)).numpy(), np.stack([expected_pixels(i) for i in range(1, 24, 3)]), atol=1e-5
    )
    assert not pixels[1, 5:].any()  # padding frames are all zeros


def test_single_video_and_numpy_output(videos):
    extractor = VideoCaptioningFeatureExtractor(num_frames=4, size=8)
    batch = extractor(videos["counter"])
    assert isinstance(batch["pixel_values_videos"], np.ndarray)
    assert batch["pixel_values_videos"].shape == (1, 4, 3, 8, 8) and batch["pixel_values_videos"].dtype == np.float32
    assert batch["video_attention_mask"].dtype == np.int64
    five_d = torch.from_numpy(np.stack([counter_frames(24), counter_frames(24)]))
    assert extractor(five_d, return_tensors="pt")["pixel_values_videos"].shape == (2, 4, 3, 8, 8)


def test_rescale_and_normalize_switches():
    frames = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    raw = VideoCaptioningFeatureExtractor(num_frames=4, do_resize=False, do_rescale=False, do_normalize=False)
    np.testing.assert_array_equal(raw(frames)["pixel_values_videos"][0], frames.transpose(0, 3, 1, 2))
    custom = VideoCaptioningFeatureExtractor(num_frames=4, do_resize=False, image_mean=0.5, image_std=[0.5, 0.25, 1])
    expected = (frames.transpose(0, 3, 1, 2) / 255 - 0.5) / np.array([0.5, 0.25, 1]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(custom(frames)["pixel_values_videos"][0], expected, atol=1e-5)


def test_resize_is_antialiased():
    # A 1-pixel checkerboard averages to mid-grey when shrunk 4 times with antialiasing; nearest keeps extremes.
    board = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    frames = np.repeat(board[None, :, :, None], 3, axis=3)
    kwargs = {"num_frames": 1, "size": 8, "do_rescale": False, "do_normalize": False}
    smooth = VideoCaptioningFeatureExtractor(**kwargs)(frames)["pixel_values_videos"]
    np.testing.assert_allclose(smooth, 127.5, atol=1)
    nearest = VideoCaptioningFeatureExtractor(resample="nearest", **kwargs)(frames)["pixel_values_videos"]
    assert set(np.unique(nearest)) <= {0.0, 255.0}


def test_fps_mode_pads_to_the_longest_video(videos):
    extractor = VideoCaptioningFeatureExtractor(num_frames=None, fps=8, size=8)
    batch = extractor([videos["short"], videos["counter"]], return_tensors="pt")
    assert batch["pixel_values_videos"].shape == (2, 8, 3, 8, 8)
    assert batch["video_attention_mask"].tolist() == [[1, 1] + [0] * 6, [1] * 8]
    assert not batch["pixel_values_videos"][0, 2:].any()


def test_call_time_sampling_overrides(videos):
    extractor = VideoCaptioningFeatureExtractor(num_frames=4, size=8)
    assert extractor(videos["short"])["video_attention_mask"].tolist() == [[1, 1, 1, 1]]
    assert extractor(videos["short"], num_frames=6)["video_attention_mask"].tolist() == [[1] * 5 + [0]]
    assert extractor(videos["short"], fps=8)["video_attention_mask"].tolist() == [[1, 1]]


def test_frames_already_sampled_are_taken_as_they_are(videos, tmp_path):
    """`do_sample_frames=False`: every frame in memory, real, whatever the sampling settings; the same pixels as the
    file those frames were decoded from."""
    extractor = VideoCaptioningFeatureExtractor(num_frames=None, fps=8, size=8)
    frames, mask = load_video(videos["counter"], num_frames=None, fps=8)
    batch = extractor([frames, counter_frames(3)], do_sample_frames=False, return_tensors="pt")
    assert batch["video_attention_mask"].tolist() == [[1] * 8, [1, 1, 1] + [0] * 5]
    torch.testing.assert_close(
        batch["pixel_values_videos"][:1], extractor(videos["counter"], return_tensors="pt")["pixel_values_videos"]
    )
    np.testing.assert_allclose(
        batch["pixel_values_videos"][1, :3].mean(dim=(2, 3)).numpy(),
        np.stack([expected_pixels(i) for i in range(3)]),
        atol=1e-5,
    )
    # Frames flipped from BGR as OpenCV users do (negative strides) are read as they are too.
    bgr = np.ascontiguousarray(frames[..., ::-1])
    torch.testing.assert_close(
        extractor(bgr[..., ::-1], do_sample_frames=False, return_tensors="pt")["pixel_values_videos"],
        batch["pixel_values_videos"][:1],
    )
    with pytest.raises(
        ValueError, match=r"`do_sample_frames=False` takes frames in memory, but .*counter.* is a video file"
    ):
        extractor([frames, videos["counter"]], do_sample_frames=False)
    with pytest.raises(InvalidVideoError, match=r"videos\[0\]: Frames must have shape \[T, H, W, 3\]"):
        extractor(np.zeros((8, 3, 16, 16), np.uint8), do_sample_frames=False)
    # As a setting, saved and reloaded; a call can still turn sampling back on.
    presampled = VideoCaptioningFeatureExtractor(num_frames=4, size=8, do_sample_frames=False)
    presampled.save_pretrained(tmp_path)
    reloaded = VideoCaptioningFeatureExtractor.from_pretrained(tmp_path)
    assert reloaded(counter_frames(6))["video_attention_mask"].tolist() == [[1] * 6]
    assert reloaded(counter_frames(6), do_sample_frames=True)["video_attention_mask"].tolist() == [[1] * 4]


def test_errors_name_the_index_and_the_path(videos):
    extractor = VideoCaptioningFeatureExtractor(num_frames=4)
    with pytest.raises(InvalidVideoError) as info:
        extractor([videos["counter"], videos["missing"]])
    assert "videos[1]" in str(info.value) and str(videos["missing"]) in str(info.value)
    with pytest.raises(InvalidVideoError, match=r"videos\[2\]: Video .*zeroed.mkv.* has no decodable frame"):
        extractor([videos["counter"], videos["short"], videos["undecodable_mkv"]])
    with pytest.raises(
        InvalidVideoError, match=r"videos\[1\]: Frames must have shape \[T, H, W, 3\].*\[8, 3, 16, 16\]"
    ):
        extractor([counter_frames(8), np.zeros((8, 3, 16, 16), np.uint8)])
    with pytest.raises(InvalidVideoError, match=r"videos\[0\]: Expected a video path .* type int"):
        extractor([3])
    with pytest.raises(InvalidVideoError, match=r"videos\[0\]: Frames in memory have no frame rate"):
        extractor(counter_frames(8), fps=2)
    # A saved `fps` (features extracted with --fps) is for files: frames in memory are sampled with `num_frames`.
    by_rate = VideoCaptioningFeatureExtractor(num_frames=4, fps=2.0, size=16)
    sampled = by_rate(counter_frames(8), return_tensors="pt")
    torch.testing.assert_close(
        sampled["pixel_values_videos"],
        VideoCaptioningFeatureExtractor(num_frames=4, size=16)(counter_frames(8), return_tensors="pt")[
            "pixel_values_videos"
        ],
    )
    with pytest.raises(ValueError, match="empty list"):
        extractor([])


def test_different_frame_sizes_need_resizing(videos):
    extractor = VideoCaptioningFeatureExtractor(num_frames=4, do_resize=False)
    with pytest.raises(ValueError, match=r"different sizes.*videos\[0\]: \[32, 32\], videos\[1\]: \[48, 48\]"):
        extractor([videos["counter"], videos["wide"]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"resample": "lanczos"},
        {"size": {"height": 8}},
        {"size": 0},
        {"image_mean": [0.5, 0.5]},
        {"num_frames": 0},
        {"num_frames": None, "fps": -1},
    ],
)
def test_invalid_settings(kwargs):
    with pytest.raises(ValueError):
        VideoCaptioningFeatureExtractor(**kwargs)


def test_save_and_reload(tmp_path, videos):
    register_processing_auto_classes()
    extractor = VideoCaptioningFeatureExtractor(
        num_frames=5, fps=4.0, size={"height": 20, "width": 10}, resample="bicubic"
    )
    extractor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["auto_map"] == {"AutoFeatureExtractor": "feature_extraction.VideoCaptioningFeatureExtractor"}
    assert {"feature_extraction.py", "video_io.py"} <= {path.name for path in tmp_path.iterdir()}
    reloaded = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(reloaded) is VideoCaptioningFeatureExtractor
    assert reloaded.to_dict() == extractor.to_dict()
    np.testing.assert_array_equal(
        reloaded(videos["counter"])["pixel_values_videos"], extractor(videos["counter"])["pixel_values_videos"]
    )
