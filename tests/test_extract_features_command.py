"""`hf-vidcap extract-features`: a run on a folder of videos, one-line errors, and two torchrun ranks sharing a run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_from_disk
from transformers import AutoModel, AutoProcessor

from hf_vidcap.cli import main


TINY_RESNET = {"model_type": "resnet", "embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 1]}
TINY_VIDEOMAE = {
    "model_type": "videomae",
    "image_size": 32,
    "patch_size": 16,
    "num_frames": 2,
    "tubelet_size": 2,
    "hidden_size": 12,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 12,
}
TINY_G2L = "projection_size=8,aligned_embedding_size=8,attention_size=8,word_embedding_size=8,hidden_size=8"


@pytest.fixture(scope="module")
def arguments(tiny_clips, tmp_path_factory) -> list[str]:
    """The command's arguments but `--output`: the tiny clips' folder, a tiny random ResNet, small frames."""
    config = tmp_path_factory.mktemp("backbone") / "tiny_resnet.json"
    config.write_text(json.dumps({**TINY_RESNET, "layer_type": "basic"}))
    clips_dir = Path(tiny_clips["test"][0]["video_path"]).parents[1]
    options = "--pooling grid --grid-size 2 --num-frames 6 --frame-size 32 --batch-size 2 --chunk-size 3"
    return [
        *["extract-features", "--dataset", str(clips_dir), "--vision-config", str(config)],
        *[*options.split(), "--split", "validation", "test"],
    ]


@pytest.fixture(scope="module")
def extracted(arguments, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("extracted") / "features"
    assert main([*arguments, "--output", str(output_dir)]) == 0
    return output_dir


def test_extracts_the_chosen_splits_into_a_saved_dataset_dict(extracted, tiny_clips):
    dataset = load_from_disk(extracted)
    assert list(dataset) == ["validation", "test"]
    for name in dataset:
        assert sorted(dataset[name]["video_id"]) == sorted(tiny_clips[name]["video_id"])
        assert dataset[name].features["video_features"].shape == (None, 64)
    assert json.loads((extracted / "feature_extraction.json").read_text())["result"]["test"]["num_extracted"] == 4


def test_errors_are_one_line_and_leave_files_alone(arguments, extracted, tmp_path, capsys):
    before = sorted(path.relative_to(extracted) for path in extracted.rglob("*"))
    other_settings = [*arguments, "--grid-size", "3", "--output", str(extracted)]
    assert main(other_settings) == 2
    error = capsys.readouterr().err
    assert error.startswith("hf-vidcap extract-features: error: ") and error.count("\n") == 1
    assert "other settings" in error
    assert sorted(path.relative_to(extracted) for path in extracted.rglob("*")) == before

    user_folder = tmp_path / "mine"
    user_folder.mkdir()
    (user_folder / "notes.txt").write_text("my notes")
    assert main([*arguments, "--output", str(user_folder)]) == 2
    assert "refusing to write into it" in capsys.readouterr().err
    assert [path.name for path in user_folder.iterdir()] == ["notes.txt"]

    unknown_backbone = [arguments[0], *arguments[1:3], "--vision-model", str(tmp_path / "no-model")]
    assert main([*unknown_backbone, "--output", str(tmp_path / "out")]) == 2
    assert "neither a local folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_two_torchrun_ranks_share_the_chunks_and_give_the_dataset_of_one_process(arguments, extracted, tmp_path):
    output_dir = tmp_path / "features"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    completed = subprocess.run(
        [*torchrun, "-m", "hf_vidcap.cli", *arguments, "--output", str(output_dir)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.count("Features of validation 4, test 4 videos") == 2  # every rank returns the result
    actual, expected = load_from_disk(output_dir), load_from_disk(extracted)
    for name in expected:
        assert actual[name]["video_id"] == expected[name]["video_id"]
        for got, want in zip(actual[name].with_format("numpy"), expected[name].with_format("numpy")):
            np.testing.assert_array_equal(got["video_features"], want["video_features"])


def test_g2l_streams_train_a_g2l_that_computes_them_from_the_video_files(arguments, tiny_clips, tmp_path, capsys):
    (tmp_path / "videomae.json").write_text(json.dumps(TINY_VIDEOMAE))
    streams = ["--clip-vision-config", str(tmp_path / "videomae.json"), "--clip-num-frames", "3"]
    assert main([*arguments, *streams, "--region-grid-size", "2", "--output", str(tmp_path / "features")]) == 0
    assert "64 values per frame, float32; also clip_features, region_features" in capsys.readouterr().out
    dataset = load_from_disk(tmp_path / "features")
    assert dataset["test"].features["clip_features"].shape == (None, 12)
    assert dataset["test"].features["region_features"].shape == (None, 4, 16)
    assert (tmp_path / "features" / "clip_backbone" / "config.json").is_file()

    train = ["train", "--dataset", str(tmp_path / "features"), "--train-split", "validation", "--eval-split", "none"]
    options = ["--max-steps", "1", "--per-device-train-batch-size", "4", "--num-beams", "1"]
    assert main([*train, *options, "--model-type", "g2l", "--config-overrides", TINY_G2L, "--output-dir",
                 str(tmp_path / "g2l")]) == 0  # fmt: skip
    model = AutoModel.from_pretrained(tmp_path / "g2l").eval()
    assert (model.config.clip_num_frames, model.config.num_regions, model.config.region_frame_stride) == (3, 4, 3)
    # From a video file the saved G2L computes the very streams it was trained on.
    processor = AutoProcessor.from_pretrained(tmp_path / "g2l")
    row = dataset["test"].with_format("numpy")[0]
    inputs = processor(videos=[row["video_path"]], return_tensors="pt")
    with torch.inference_mode():
        computed = model.encode_pixel_streams(**inputs, names=["clip_features", "region_features"])
    for name, values in computed.items():
        np.testing.assert_allclose(row[name], values[0].numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
    capsys.readouterr()
    assert main(["caption", row["video_path"], "--model", str(tmp_path / "g2l"), "--num-beams", "1"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_stream_options_are_checked(arguments, tmp_path, capsys):
    assert main([*arguments, "--clip-num-frames", "3", "--output", str(tmp_path / "out")]) == 2
    assert "--clip-num-frames needs a clip model" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a usage error of argparse
        main([*arguments, "--region-grid-size", "0", "--output", str(tmp_path / "out")])
    assert "argument --region-grid-size: must be at least 1, got 0" in capsys.readouterr().err
    for device, message in (("gpu0", "'gpu0' is not a torch device"), ("cuda:99", "'cuda:99': this machine has")):
        with pytest.raises(SystemExit):  # not a torch traceback after the dataset was read
            main([*arguments, "--device", device, "--output", str(tmp_path / "out")])
        assert f"argument --device: {message}" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{}")
    assert (
        main([*arguments, "--clip-vision-config", str(tmp_path / "bad.json"), "--output", str(tmp_path / "out")]) == 2
    )
    assert capsys.readouterr().err.startswith("hf-vidcap extract-features: error: --clip-vision-config ")
    (tmp_path / "unknown.json").write_text('{"model_type": "nosuch"}')
    assert (
        main([*arguments, "--clip-vision-config", str(tmp_path / "unknown.json"), "--output", str(tmp_path / "o")])
        == 2
    )
    error = capsys.readouterr().err
    assert "(Unrecognized model identifier: nosuch)." in error and len(error) < 400  # not every model type there is
    assert not (tmp_path / "out").exists()
