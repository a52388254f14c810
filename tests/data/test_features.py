"""Feature extraction into Arrow, feature statistics, one-row-per-caption and the collator."""

import numpy as np
import pytest
import torch
from transformers import ResNetConfig

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning
from hf_vidcap.data import VideoCaptioningCollator, explode_captions, extract_video_features, video_feature_statistics
from hf_vidcap.processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor

from ..conftest import TINY_CLIPS


@pytest.fixture(scope="module")
def captioner_and_processor(tiny_clips):
    torch.manual_seed(0)
    captions = [c for cs in tiny_clips["train"]["captions"] for c in cs]
    processor = VideoCaptioningProcessor.from_captions(
        captions, feature_extractor=VideoCaptioningFeatureExtractor(num_frames=6, size={"height": 32, "width": 32})
    )
    config = S2VTConfig(
        vocab_size=len(processor.tokenizer),
        hidden_size=16,
        frame_embedding_size=8,
        word_embedding_size=8,
        vision_config=ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"),
        vision_feature_pooling="grid",
        vision_feature_grid_size=2,
        standardize_video_features=True,
    )
    return S2VTForVideoCaptioning(config).eval(), processor


# Backbone chunks of 64 frames take the 3 six-frame videos of a batch together, of 7 one at a time, of 4 less than one.
@pytest.mark.parametrize("frame_chunk_size", [64, 7, 4])
def test_extracted_features_equal_the_models_own_encoding(
    tiny_clips, captioner_and_processor, frame_chunk_size, monkeypatch
):
    model, processor = captioner_and_processor
    monkeypatch.setattr(model.vision_model, "frame_chunk_size", frame_chunk_size)
    dataset = extract_video_features(tiny_clips["test"], model.vision_model, processor, batch_size=3)
    assert dataset.column_names == ["video_id", "video_path", "captions", "video_features"]
    assert dataset.features["video_features"].shape == (None, 64)
    for row in dataset.with_format("numpy"):
        inputs = processor(videos=[row["video_path"]], return_tensors="pt")
        expected = model.vision_model(inputs["pixel_values_videos"], inputs["video_attention_mask"])[0]
        assert row["video_features"].shape == (6, 64)
        np.testing.assert_allclose(row["video_features"], expected.numpy(), rtol=1e-4, atol=1e-5)


def test_float16_storage(tiny_clips, captioner_and_processor):
    model, processor = captioner_and_processor
    dataset = extract_video_features(
        tiny_clips["test"].select(range(2)), model.vision_model, processor, dtype="float16"
    )
    assert dataset.features["video_features"].dtype == "float16"
    assert "halffloat" in repr(dataset.data.schema.field("video_features").type)


def test_statistics_match_numpy_and_standardize_inside_the_model(tiny_clips, captioner_and_processor):
    model, processor = captioner_and_processor
    dataset = extract_video_features(tiny_clips["train"], model.vision_model, processor)
    mean, std = video_feature_statistics(dataset, batch_size=5)
    frames = np.concatenate(list(dataset.with_format("numpy")["video_features"]))
    np.testing.assert_allclose(mean.numpy(), frames.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std.numpy(), frames.std(0), rtol=1e-3, atol=1e-5)

    model.set_video_feature_statistics(mean, std)
    row = dataset.with_format("torch")[0]
    features, mask = model.get_video_features(video_features=row["video_features"][None])
    constant = std < 1e-6  # e.g. a ReLU channel never active on the training frames: only centred
    torch.testing.assert_close(features[0], (row["video_features"] - mean) / torch.where(constant, 1.0, std))
    # The pixel path is standardized the same way, so reloaded models caption videos as they were trained.
    pixels = processor(videos=[row["video_path"]], return_tensors="pt")
    from_pixels, _ = model.get_video_features(
        pixel_values_videos=pixels["pixel_values_videos"], video_attention_mask=pixels["video_attention_mask"]
    )
    torch.testing.assert_close(from_pixels, features, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        model.set_video_feature_statistics(mean[:3], std)


def test_a_dimension_constant_in_training_is_only_centred(captioner_and_processor):
    """Dividing by the tiny spread of a dimension constant in training would blow up any value it takes elsewhere."""
    model, _ = captioner_and_processor
    mean, std = torch.zeros(64), torch.full((64,), 2.0)
    std[5] = 0.0
    model.set_video_feature_statistics(mean, std)
    features = torch.full((1, 3, 64), 0.01)
    standardized, _ = model.get_video_features(video_features=features)
    assert standardized[0, 0, 5] == pytest.approx(0.01) and standardized[0, 0, 4] == pytest.approx(0.005)


def test_statistics_are_saved_with_the_weights(tmp_path, captioner_and_processor):
    model, _ = captioner_and_processor
    model.set_video_feature_statistics(torch.arange(64.0), torch.full((64,), 2.0))
    model.save_pretrained(tmp_path)
    reloaded = S2VTForVideoCaptioning.from_pretrained(tmp_path)
    torch.testing.assert_close(reloaded.video_feature_mean, torch.arange(64.0))
    torch.testing.assert_close(reloaded.video_feature_std, torch.full((64,), 2.0))


def test_explode_captions_gives_one_row_per_caption(tiny_clips):
    exploded = explode_captions(tiny_clips["train"])
    assert len(exploded) == sum(len(c) for c in tiny_clips["train"]["captions"]) == 16 * TINY_CLIPS.num_captions
    assert "captions" not in exploded.column_names
    by_id = {row["video_id"]: row["captions"] for row in tiny_clips["train"]}
    for row in exploded:
        assert row["caption"] in by_id[row["video_id"]]


def test_explode_captions_reads_features_from_the_source_rows_instead_of_copying_them(
    tiny_clips, captioner_and_processor
):
    model, processor = captioner_and_processor
    features = extract_video_features(tiny_clips["test"], model.vision_model, processor)
    exploded = explode_captions(features).shuffle(seed=0)
    assert len(exploded) == 4 * TINY_CLIPS.num_captions
    # Four captions per clip: copied per caption, the features alone would take four times their size in the source.
    assert exploded.data.nbytes < features.data.column("video_features").nbytes
    by_id = {row["video_id"]: row for row in features.with_format("numpy")}
    for row in exploded:
        np.testing.assert_array_equal(row["video_features"], by_id[row["video_id"]]["video_features"])
        assert row["caption"] in by_id[row["video_id"]]["captions"]

    loader = torch.utils.data.DataLoader(exploded, batch_size=5, collate_fn=VideoCaptioningCollator(processor))
    batch = next(iter(loader))
    assert batch["video_features"].shape == (5, 6, 64)
    assert batch["labels"].shape[0] == 5
    torch.testing.assert_close(batch["video_features"][0], torch.from_numpy(exploded[0]["video_features"]))


def test_collator_pads_features_and_labels(captioner_and_processor):
    _, processor = captioner_and_processor
    collator = VideoCaptioningCollator(processor, max_length=5)
    rows = [
        {"video_features": np.ones((3, 4), np.float32), "caption": "a red circle moves to the left quickly"},
        {"video_features": np.ones((5, 4), np.float32), "caption": "a blue square"},
    ]
    batch = collator(rows)
    assert batch["video_features"].shape == (2, 5, 4)
    assert batch["video_attention_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]
    eos = processor.tokenizer.eos_token_id
    assert batch["labels"].shape == (2, 5) and batch["labels"][0, -1] == eos
    assert processor.batch_decode(batch["labels"]) == ["a red circle moves", "a blue square"]
