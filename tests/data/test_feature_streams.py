"""Feature extraction of every stream a multi-stream captioner reads (G2L's clip and region features): equal to what
the captioner computes from the same video's pixels, stored in the requested dtype, resumable and sharded like the
frame features, and recorded so that a G2L built on the extracted folder computes the same streams from videos."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from datasets import Array2D, Array3D, DatasetDict, load_from_disk

from hf_vidcap import G2LConfig, G2LForVideoCaptioning, S2VTConfig, S2VTForVideoCaptioning
from hf_vidcap.data import VideoFeaturesInfo, extract_video_features, extract_video_features_to_disk
from hf_vidcap.data.features import load_clip_encoder, load_frame_encoder
from hf_vidcap.processing import VideoCaptioningFeatureExtractor
from hf_vidcap.training import check_dataset, load_or_build_captioner

from ..helpers import TINY_RESNET, TINY_VIDEOMAE


NUM_FRAMES = 7  # two full groups of 3 frames for the regions, and a short last one
TINY_G2L = {
    "vocab_size": 12,
    "projection_size": 8,
    "aligned_embedding_size": 8,
    "attention_size": 8,
    "word_embedding_size": 8,
    "hidden_size": 8,
}
# Small chunks and batches, so that 5 videos make 3 chunks (train 2 + 1, test 2) of up to 2 batches.
RUN = {"batch_size": 1, "chunk_size": 2}


@pytest.fixture(scope="module")
def feature_extractor():
    return VideoCaptioningFeatureExtractor(num_frames=NUM_FRAMES, size=32)


@pytest.fixture(scope="module")
def g2l():
    torch.manual_seed(0)
    config = G2LConfig(
        vision_config=TINY_RESNET,
        vision_feature_pooling="grid",
        vision_feature_grid_size=2,
        clip_vision_config=TINY_VIDEOMAE,
        num_regions=4,
        **TINY_G2L,
    )
    return G2LForVideoCaptioning(config).eval()


@pytest.fixture(scope="module")
def clips(tiny_clips):
    return DatasetDict({"train": tiny_clips["train"].select(range(3)), "test": tiny_clips["test"].select(range(2))})


@pytest.fixture(scope="module")
def extracted(clips, g2l, feature_extractor):
    return extract_video_features(clips["test"], g2l, feature_extractor, batch_size=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, clips, g2l, feature_extractor):
    """The output folder of one uninterrupted, unsharded run with every stream."""
    output_dir = tmp_path_factory.mktemp("reference") / "features"
    extract_video_features_to_disk(clips, output_dir, g2l, feature_extractor, **RUN)
    return output_dir


def streams_from_pixels(model, feature_extractor, video_path: str) -> dict[str, np.ndarray]:
    """Every stream the captioner computes from one video's pixels, padding steps dropped (none: one video)."""
    inputs = feature_extractor(video_path, return_tensors="pt")
    pixels, mask = inputs["pixel_values_videos"], inputs["video_attention_mask"]
    with torch.inference_mode():
        streams = model.encode_pixel_streams(pixels, mask, ["clip_features", "region_features"])
        streams["video_features"] = model.vision_model(pixels, mask)
    return {name: values[0].numpy() for name, values in streams.items()}


def assert_same_datasets(actual: DatasetDict, expected: DatasetDict) -> None:
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name].features == expected[name].features
        assert actual[name]["video_id"] == expected[name]["video_id"]
        for got, want in zip(actual[name].with_format("numpy"), expected[name].with_format("numpy")):
            for column in ("video_features", "clip_features", "region_features"):
                np.testing.assert_array_equal(got[column], want[column])


def test_a_captioner_extracts_every_stream_it_reads_equal_to_what_it_computes_from_pixels(
    extracted, g2l, feature_extractor
):
    assert extracted.column_names == [
        "video_id",
        "video_path",
        "captions",
        "video_features",
        "clip_features",
        "region_features",
    ]
    assert extracted.features["clip_features"] == Array2D(shape=(None, 12), dtype="float32")
    assert extracted.features["region_features"] == Array3D(shape=(None, 4, 16), dtype="float32")
    for row in extracted.with_format("numpy"):
        expected = streams_from_pixels(g2l, feature_extractor, row["video_path"])
        assert row["video_features"].shape == (NUM_FRAMES, 64)
        assert row["clip_features"].shape == (NUM_FRAMES, 12)
        assert row["region_features"].shape == (3, 4, 16)  # frames 1, 4 and 6 (the last of the short group)
        for name, values in expected.items():
            np.testing.assert_allclose(row[name], values, rtol=1e-4, atol=1e-5, err_msg=name)


def test_separate_encoders_give_the_streams_of_the_captioner_that_holds_them(extracted, clips, g2l, feature_extractor):
    by_parts = extract_video_features(
        clips["test"],
        g2l.vision_model,
        feature_extractor,
        batch_size=1,
        clip_encoder=g2l.clip_model,
        region_grid_size=2,
        region_frame_stride=3,
    )
    assert by_parts.features == extracted.features
    for got, want in zip(by_parts.with_format("numpy"), extracted.with_format("numpy")):
        for name in ("video_features", "clip_features", "region_features"):
            np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5)


def test_the_streams_are_stored_as_float16_when_asked(extracted, clips, g2l, feature_extractor):
    half = extract_video_features(clips["test"], g2l, feature_extractor, batch_size=2, dtype="float16")
    for name in ("clip_features", "region_features"):
        assert half.features[name].dtype == "float16"
        assert "halffloat" in repr(half.data.schema.field(name).type)
    for got, want in zip(half.with_format("numpy"), extracted.with_format("numpy")):
        for name in ("clip_features", "region_features"):
            np.testing.assert_array_equal(got[name], want[name].astype(np.float16).astype(got[name].dtype))


def test_only_the_streams_asked_for_are_written(clips, g2l, feature_extractor):
    regions_only = extract_video_features(
        clips["test"].select([0]), g2l.vision_model, feature_extractor, region_grid_size=1, region_frame_stride=2
    )
    assert regions_only.column_names[-2:] == ["video_features", "region_features"]
    assert np.asarray(regions_only[0]["region_features"]).shape == (4, 1, 16)  # ceil(7 / 2) steps of 1 region
    global_only = G2LForVideoCaptioning(G2LConfig(**{**g2l.config.to_dict(), "num_key_frames": 0}))
    assert extract_video_features(clips["test"].select([0]), global_only, feature_extractor).column_names[-2:] == [
        "video_features",
        "clip_features",
    ]


def test_bad_stream_arguments_are_clear_errors(clips, g2l, feature_extractor):
    test = clips["test"]
    with pytest.raises(ValueError, match="`region_grid_size` must be a positive integer, got 0"):
        extract_video_features(test, g2l.vision_model, feature_extractor, region_grid_size=0)
    with pytest.raises(ValueError, match="`clip_encoder` must be a mean-pooled ClipFeatureEncoder"):
        extract_video_features(test, g2l.vision_model, feature_extractor, clip_encoder=g2l.vision_model)
    with pytest.raises(ValueError, match="not with a captioner"):
        extract_video_features(test, g2l, feature_extractor, region_grid_size=2)
    without_clip_model = G2LForVideoCaptioning(G2LConfig(vision_config=TINY_RESNET, num_regions=4, **TINY_G2L))
    with pytest.raises(ValueError, match="reads clip_features but has no `clip_vision_config`"):
        extract_video_features(test, without_clip_model, feature_extractor)
    without_backbone = S2VTForVideoCaptioning(S2VTConfig(vocab_size=12, hidden_size=8))
    with pytest.raises(ValueError, match="has no vision backbone"):
        extract_video_features(test, without_backbone, feature_extractor)
    with pytest.raises(ValueError, match="already has a 'clip_features' column"):
        extract_video_features(test.add_column("clip_features", [[0.0]] * len(test)), g2l, feature_extractor)
    with pytest.raises(TypeError, match="must be a `datasets.Dataset`, got a IterableDataset: .* without `streaming"):
        extract_video_features(test.to_iterable_dataset(), g2l, feature_extractor)


def test_the_folder_records_the_clip_model_and_region_grid(reference, g2l, feature_extractor):
    info = VideoFeaturesInfo.load(reference)
    assert (info.clip_num_frames, info.clip_feature_size) == (2, 12)
    assert (info.region_grid_size, info.region_frame_stride, info.region_feature_size) == (2, 3, 16)
    assert info.clip_backbone_name_or_path == ""
    clip_encoder = load_clip_encoder(info.clip_backbone_path)
    for name, tensor in g2l.clip_model.backbone.state_dict().items():
        torch.testing.assert_close(clip_encoder.backbone.state_dict()[name], tensor, rtol=0, atol=0)
    test = load_from_disk(reference)["test"].with_format("numpy")
    expected = streams_from_pixels(g2l, feature_extractor, test[0]["video_path"])
    np.testing.assert_allclose(test[0]["clip_features"], expected["clip_features"], rtol=1e-4, atol=1e-5)


def test_an_interrupted_run_with_streams_resumes_to_the_same_result(
    tmp_path, monkeypatch, clips, g2l, feature_extractor, reference
):
    output_dir = tmp_path / "features"
    forward, calls = type(g2l.clip_model).forward, []

    def failing_forward(module, *args):
        if len(calls) == 3:  # the check on a blank frame and chunk 0 (2 batches) done, then chunk 1's first fails
            raise RuntimeError("interrupted")
        calls.append(1)
        return forward(module, *args)

    monkeypatch.setattr(type(g2l.clip_model), "forward", failing_forward)
    with pytest.raises(RuntimeError, match="interrupted"):
        extract_video_features_to_disk(clips, output_dir, g2l, feature_extractor, **RUN)
    monkeypatch.undo()
    assert [path.name for path in (output_dir / "chunks" / "train").iterdir()] == ["00000"]
    shutil.rmtree(output_dir / "clip_backbone")  # as if the run had stopped before saving it, too

    resumed = extract_video_features_to_disk(clips, output_dir, g2l, feature_extractor, **RUN)
    assert (output_dir / "clip_backbone" / "config.json").is_file()
    assert_same_datasets(resumed, load_from_disk(reference))


def test_shards_with_streams_combine_into_the_dataset_of_one_run(tmp_path, clips, g2l, feature_extractor, reference):
    output_dir = tmp_path / "features"
    for shard_index in (1, 0):
        result = extract_video_features_to_disk(
            clips, output_dir, g2l, feature_extractor, **RUN, num_shards=2, shard_index=shard_index
        )
        assert result is None
    assert_same_datasets(
        extract_video_features_to_disk(clips, output_dir, g2l, feature_extractor, **RUN), load_from_disk(reference)
    )


def test_a_folder_is_only_resumed_with_the_same_streams(tmp_path, clips, g2l, feature_extractor, reference):
    output_dir = tmp_path / "features"
    shutil.copytree(reference, output_dir)
    settings = json.loads((output_dir / "feature_extraction.json").read_text())
    settings.pop("result")
    (output_dir / "feature_extraction.json").write_text(json.dumps(settings))
    other_grid = {"clip_encoder": g2l.clip_model, "region_grid_size": 1}
    with pytest.raises(ValueError, match=r"differing: region_grid_size\)"):
        extract_video_features_to_disk(clips, output_dir, g2l.vision_model, feature_extractor, **RUN, **other_grid)
    with pytest.raises(
        ValueError,
        match=r"differing: clip_backbone_model_type, clip_backbone_weights_sha256, clip_feature_size, clip_num_frames\)",
    ):
        extract_video_features_to_disk(
            clips, output_dir, g2l.vision_model, feature_extractor, **RUN, region_grid_size=2
        )


def test_a_g2l_built_on_the_folder_computes_the_extracted_streams_from_video_files(reference, feature_extractor):
    dataset = load_from_disk(reference)
    overrides = ",".join(f"{name}={value}" for name, value in TINY_G2L.items() if name != "vocab_size")
    model, processor = load_or_build_captioner(
        dataset["train"],
        model_type="g2l",
        config_overrides=f"{overrides},standardize_video_features=true",
        features_info=VideoFeaturesInfo.load(reference),
    )
    check_dataset(dataset["train"], model, "train")
    assert (model.config.num_regions, model.config.region_frame_stride, model.config.clip_num_frames) == (4, 3, 2)
    assert processor.feature_extractor.to_dict() == feature_extractor.to_dict()
    assert not torch.equal(model.clip_feature_std, torch.ones(12))  # statistics of the extracted clip features
    model.eval()
    for row in dataset["test"].with_format("numpy"):
        expected = streams_from_pixels(model, processor.feature_extractor, row["video_path"])
        for name, values in expected.items():
            np.testing.assert_allclose(row[name], values, rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_model_reading_streams_the_dataset_lacks_is_a_clear_error(clips, g2l, feature_extractor):
    frames_only = extract_video_features(clips["test"], load_frame_encoder(TINY_RESNET, "grid", 2), feature_extractor)
    with pytest.raises(ValueError, match="has video_features but no clip_features, region_features"):
        check_dataset(frames_only, g2l, "test")
