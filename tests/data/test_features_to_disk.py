"""Feature extraction into a saved DatasetDict: reproducible from video files, resumable, sharded, tolerant of
unreadable videos, and careful with the output folder."""

import json
import shutil

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict, load_from_disk
from transformers import ResNetConfig, ViTConfig

import hf_vidcap.data.collator
import hf_vidcap.data.features
from hf_vidcap import S2VTForVideoCaptioning
from hf_vidcap.data import (
    VideoFeaturesInfo,
    explode_captions,
    extract_video_features_to_disk,
    load_captioning_dataset,
    load_frame_encoder,
    video_feature_statistics,
)
from hf_vidcap.processing import VideoCaptioningFeatureExtractor


TINY_RESNET = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
NUM_FRAMES = 6
# Small chunks and batches, so that 11 videos make 5 chunks (train 3 + 3 + 1, test 3 + 1) of up to 2 batches.
RUN = {"batch_size": 2, "chunk_size": 3}


@pytest.fixture(scope="module")
def clips(tiny_clips):
    return DatasetDict({"train": tiny_clips["train"].select(range(7)), "test": tiny_clips["test"]})


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=2)


@pytest.fixture(scope="module")
def feature_extractor():
    return VideoCaptioningFeatureExtractor(num_frames=NUM_FRAMES, size=32)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, clips, encoder, feature_extractor):
    """The output folder of one uninterrupted, unsharded run."""
    output_dir = tmp_path_factory.mktemp("reference") / "features"
    extract_video_features_to_disk(clips, output_dir, encoder, feature_extractor, **RUN)
    return output_dir


def count_encoded_frames(monkeypatch, encoder, fail_after_calls: int | None = None) -> list[int]:
    """Patch `encoder.forward` to record the frames of every call (and raise on call `fail_after_calls + 1`)."""
    frames, forward = [], encoder.forward

    def recording_forward(pixel_values_videos, video_attention_mask):
        if fail_after_calls is not None and len(frames) == fail_after_calls:
            raise RuntimeError("interrupted")
        frames.append(int(video_attention_mask.sum()))
        return forward(pixel_values_videos, video_attention_mask)

    monkeypatch.setattr(encoder, "forward", recording_forward)
    return frames


def assert_same_datasets(actual: DatasetDict, expected: DatasetDict) -> None:
    assert list(actual) == list(expected)
    for name in expected:
        assert actual[name].features == expected[name].features
        assert actual[name]["video_id"] == expected[name]["video_id"]
        assert actual[name]["captions"] == expected[name]["captions"]
        for got, want in zip(actual[name].with_format("numpy"), expected[name].with_format("numpy")):
            np.testing.assert_array_equal(got["video_features"], want["video_features"])


def test_output_is_a_saved_dataset_dict_whose_features_a_captioner_reproduces_from_video_files(
    reference, clips, feature_extractor
):
    dataset = load_from_disk(reference)
    assert list(dataset) == ["train", "test"]
    for name in dataset:
        assert dataset[name].column_names == ["video_id", "video_path", "captions", "video_features"]
        assert dataset[name]["video_id"] == clips[name]["video_id"]
        assert dataset[name]["captions"] == clips[name]["captions"]
        assert dataset[name].features["video_features"].shape == (None, 64)
    assert not (reference / "chunks").exists()
    assert (reference / "skipped_videos.jsonl").read_text() == ""

    info = VideoFeaturesInfo.load(reference)
    assert (info.video_feature_size, info.vision_feature_pooling, info.vision_feature_grid_size) == (64, "grid", 2)
    assert info.feature_extractor.to_dict() == feature_extractor.to_dict()
    captioner = S2VTForVideoCaptioning.from_vision_pretrained(
        str(info.backbone_path),
        vision_feature_pooling=info.vision_feature_pooling,
        vision_feature_grid_size=info.vision_feature_grid_size,
        hidden_size=8,
        frame_embedding_size=8,
        word_embedding_size=8,
        vocab_size=10,
    ).eval()
    assert captioner.config.video_feature_size == info.video_feature_size
    for row in dataset["test"].with_format("numpy"):
        inputs = info.feature_extractor(row["video_path"], return_tensors="pt")
        with torch.inference_mode():
            features, _ = captioner.get_video_features(**inputs)
        assert row["video_features"].shape == (NUM_FRAMES, 64)
        np.testing.assert_allclose(row["video_features"], features[0].numpy(), rtol=1e-4, atol=1e-5)


def test_an_interrupted_run_resumes_where_it_stopped_with_the_same_result(
    tmp_path, monkeypatch, clips, encoder, feature_extractor, reference
):
    output_dir = tmp_path / "features"
    # The check of the backbone on one blank frame and the batches of chunk 0 (videos 0-1, 2) succeed, then the first
    # batch of chunk 1 fails.
    count_encoded_frames(monkeypatch, encoder, fail_after_calls=3)
    with pytest.raises(RuntimeError, match="interrupted"):
        extract_video_features_to_disk(clips, output_dir, encoder, feature_extractor, **RUN)
    assert [path.name for path in (output_dir / "chunks" / "train").iterdir()] == ["00000"]
    assert not (output_dir / "dataset_dict.json").exists()
    with pytest.raises(ValueError, match=r"features is an unfinished `hf-vidcap extract-features` output .* run the "
                       r"same extract-features command again to finish it"):  # fmt: skip
        load_captioning_dataset(output_dir)  # (it used to say it "cannot tell which dataset this is")

    shutil.rmtree(output_dir / "backbone")  # as if the run had stopped before saving it, too

    monkeypatch.undo()
    frames = count_encoded_frames(monkeypatch, encoder)
    resumed = extract_video_features_to_disk(clips, output_dir, encoder, feature_extractor, **RUN)
    assert VideoFeaturesInfo.load(output_dir).backbone_path.joinpath("config.json").is_file()
    assert sum(frames) == 1 + (11 - 3) * NUM_FRAMES  # the blank frame, then the 8 videos after the complete chunk
    assert_same_datasets(resumed, load_from_disk(reference))

    frames.clear()
    again = extract_video_features_to_disk(clips, output_dir, encoder, feature_extractor, **RUN)
    assert frames == [1]  # a complete folder is just loaded (after the check of the backbone)
    assert_same_datasets(again, resumed)


def test_shards_combine_into_the_dataset_of_one_run(
    tmp_path, monkeypatch, clips, encoder, feature_extractor, reference
):
    output_dir = tmp_path / "features"
    frames = count_encoded_frames(monkeypatch, encoder)
    for index in range(2):
        assert (
            extract_video_features_to_disk(
                clips, output_dir, encoder, feature_extractor, num_shards=2, shard_index=index, **RUN
            )
            is None
        )
    assert sum(frames) == 2 + 11 * NUM_FRAMES  # every video once over both shards, after each run's blank frame
    assert sorted(path.name for path in (output_dir / "chunks" / "train").iterdir()) == ["00000", "00001", "00002"]
    assert not (output_dir / "dataset_dict.json").exists()

    frames.clear()
    combined = extract_video_features_to_disk(clips, output_dir, encoder, feature_extractor, **RUN)
    assert frames == [1]  # the check of the backbone only
    assert_same_datasets(combined, load_from_disk(reference))


def test_unreadable_videos_are_skipped_and_reported(tmp_path, clips, encoder, feature_extractor, reference):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    missing = tmp_path / "missing.mp4"
    good = clips["test"]
    rows = {
        "video_id": [good[0]["video_id"], "corrupt", good[1]["video_id"], "missing", good[2]["video_id"]],
        "video_path": [
            good[0]["video_path"],
            str(corrupt),
            good[1]["video_path"],
            str(missing),
            good[2]["video_path"],
        ],
        "captions": [["a"], ["b"], ["c"], ["d"], ["e"]],
    }
    dataset = Dataset.from_dict(rows, features=good.features, split="test")
    result = extract_video_features_to_disk(dataset, tmp_path / "features", encoder, feature_extractor, **RUN)

    assert result["test"]["video_id"] == good["video_id"][:3]
    expected = load_from_disk(reference)["test"].with_format("numpy")
    for got, want in zip(result["test"].with_format("numpy"), expected):
        np.testing.assert_array_equal(got["video_features"], want["video_features"])
    report = [json.loads(line) for line in (tmp_path / "features" / "skipped_videos.jsonl").read_text().splitlines()]
    assert [(r["split"], r["video_id"], r["video_path"]) for r in report] == [
        ("test", "corrupt", str(corrupt)),
        ("test", "missing", str(missing)),
    ]
    assert str(corrupt) in report[0]["reason"]
    assert "does not exist" in report[1]["reason"]


def test_empty_and_unreadable_splits_are_saved_with_their_columns(tmp_path, clips, encoder, feature_extractor):
    """A split with no video (a small dataset of one's own) and one whose every video is unreadable both load back,
    empty but with the columns of the others, and a second run finds the extraction complete."""
    unreadable = tmp_path / "unreadable.mp4"
    unreadable.write_bytes(b"not a video")
    splits = DatasetDict(
        {
            "train": clips["train"].select(range(2)),
            "validation": clips["train"].select([]),
            "test": Dataset.from_dict(
                {"video_id": ["bad"], "video_path": [str(unreadable)], "captions": [["a"]]},
                features=clips["train"].features,
            ),
        }
    )
    output_dir = tmp_path / "features"
    for _ in range(2):
        result = extract_video_features_to_disk(splits, output_dir, encoder, feature_extractor, **RUN)
        saved = load_from_disk(output_dir)
        assert {name: len(split) for name, split in saved.items()} == {"train": 2, "validation": 0, "test": 0}
        assert saved["validation"].features == saved["test"].features == saved["train"].features
        assert {name: len(split) for name, split in result.items()} == {"train": 2, "validation": 0, "test": 0}


def test_float16_storage(tmp_path, clips, encoder, feature_extractor, reference):
    result = extract_video_features_to_disk(
        clips["test"], tmp_path / "features", encoder, feature_extractor, dtype="float16", **RUN
    )
    assert list(result) == ["train"]  # a Dataset is one split, named after its `split`, else "train"
    assert result["train"].features["video_features"].dtype == "float16"
    assert "halffloat" in str(result["train"].data.schema.field("video_features").type.storage_type)
    expected = load_from_disk(reference)["test"].with_format("numpy")
    for got, want in zip(result["train"].with_format("numpy"), expected):
        np.testing.assert_array_equal(got["video_features"], got["video_features"].astype(np.float16))
        np.testing.assert_allclose(got["video_features"], want["video_features"], rtol=1e-3, atol=1e-3)


def test_bad_input_gets_a_clear_error_and_no_file_is_touched(tmp_path, clips, encoder, feature_extractor, reference):
    with pytest.raises(ValueError, match="no 'video_path' column"):
        extract_video_features_to_disk(clips.remove_columns("video_path"), tmp_path / "a", encoder, feature_extractor)
    with pytest.raises(ValueError, match="neither a local folder"):
        load_frame_encoder(tmp_path / "no-such-model")
    with pytest.raises(ValueError, match="`grid_size` must be a positive integer, got 0"):  # 0 values per frame
        load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=0)
    with pytest.raises(ValueError, match="both `num_shards` and `shard_index`"):
        extract_video_features_to_disk(clips, tmp_path / "b", encoder, feature_extractor, num_shards=2)

    vit = load_frame_encoder(
        ViTConfig(
            image_size=16, patch_size=8, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8
        )
    )
    with pytest.raises(ValueError, match=r"The backbone \(ViTModel\) cannot encode 32x32 RGB frames"):
        extract_video_features_to_disk(clips, tmp_path / "vit", vit, feature_extractor)
    assert not (tmp_path / "vit").exists()  # nothing claimed: the corrected command may use the folder

    user_folder = tmp_path / "mine"
    user_folder.mkdir()
    (user_folder / "notes.txt").write_text("my notes")
    with pytest.raises(FileExistsError, match="refusing to write into it"):
        extract_video_features_to_disk(clips, user_folder, encoder, feature_extractor)
    assert [path.name for path in user_folder.iterdir()] == ["notes.txt"]
    assert (user_folder / "notes.txt").read_text() == "my notes"

    before = sorted(path.relative_to(reference) for path in reference.rglob("*"))
    with pytest.raises(ValueError, match="other settings .*chunk_size"):
        extract_video_features_to_disk(clips, reference, encoder, feature_extractor, batch_size=2, chunk_size=4)
    with pytest.raises(ValueError, match="other settings .*splits"):
        extract_video_features_to_disk(clips["test"].select(range(2)), reference, encoder, feature_extractor, **RUN)
    edited = clips["test"].map(lambda row: {"captions": [*row["captions"], "an edited caption"]})
    with pytest.raises(ValueError, match="other settings .*splits"):  # the output would keep the old captions
        extract_video_features_to_disk(
            DatasetDict({**clips, "test": edited}), reference, encoder, feature_extractor, **RUN
        )
    other = load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=2)  # new random weights
    with pytest.raises(ValueError, match="other settings .*backbone_weights_sha256"):
        extract_video_features_to_disk(clips, reference, other, feature_extractor, **RUN)
    assert sorted(path.relative_to(reference) for path in reference.rglob("*")) == before


def test_readers_of_a_memory_mapped_feature_set_reopen_their_maps_and_read_the_same_rows(monkeypatch, reference):
    # Reopening after every batch: the statistics and the exploded rows are those of the data, however often it is.
    monkeypatch.setattr(hf_vidcap.data.features, "REOPEN_MEMORY_MAPS_AFTER_BYTES", 0)
    monkeypatch.setattr(hf_vidcap.data.collator, "REOPEN_MEMORY_MAPS_AFTER_BYTES", 0)
    train = load_from_disk(reference)["train"]
    assert train.cache_files
    frames = np.concatenate(list(train.with_format("numpy")["video_features"]))
    mean, std = video_feature_statistics(train, batch_size=2)
    np.testing.assert_allclose(mean.numpy(), frames.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(std.numpy(), frames.std(0), rtol=1e-4, atol=1e-6)

    exploded = explode_captions(train)
    loader = torch.utils.data.DataLoader(exploded, batch_size=3, collate_fn=list)
    rows = [row for batch in loader for row in batch]
    by_id = {row["video_id"]: row for row in train.with_format("numpy")}
    assert len(rows) == sum(len(row["captions"]) for row in by_id.values())
    for row in rows:
        np.testing.assert_array_equal(row["video_features"], by_id[row["video_id"]]["video_features"])
        assert row["caption"] in by_id[row["video_id"]]["captions"]
