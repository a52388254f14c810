"""`hf-vidcap evaluate`: the metric table, coco-caption results and metrics files, over features or videos."""

import json

import pytest
import torch
from datasets import load_from_disk
from transformers import ResNetConfig

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning
from hf_vidcap.cli import main
from hf_vidcap.metrics import METRIC_NAMES, compute_caption_metrics
from hf_vidcap.processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor
from hf_vidcap.training import load_or_build_captioner

from .conftest import TINY_S2VT


@pytest.fixture(scope="module")
def saved_model(feature_dataset_dir, tmp_path_factory):
    """A randomly initialised tiny S2VT (weights large enough that its captions differ from clip to clip)."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    model, processor = load_or_build_captioner(
        load_from_disk(feature_dataset_dir)["train"],
        model_type="s2vt",
        config_overrides=TINY_S2VT + ",initializer_range=0.5",
    )
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder, model.eval(), processor


def caption_one_by_one(model, processor, **videos) -> list[str]:
    name, items = next(iter(videos.items()))
    captions = []
    for item in items:
        ids = model.generate(**processor(**{name: [item]}, return_tensors="pt"), num_beams=2)
        captions += processor.batch_decode(ids, skip_special_tokens=True)
    return captions


def test_prints_the_table_and_writes_coco_results_and_metrics(saved_model, feature_dataset_dir, tmp_path, capsys):
    folder, model, processor = saved_model
    predictions, metrics = tmp_path / "predictions.json", tmp_path / "metrics.json"
    argv = ["evaluate", "--model", str(folder), "--dataset", str(feature_dataset_dir), "--split", "validation",
            "--num-beams", "2", "--batch-size", "2", "--predictions-file", str(predictions),
            "--metrics-file", str(metrics)]  # fmt: skip
    assert main(argv) == 0

    validation = load_from_disk(feature_dataset_dir)["validation"].with_format("numpy", columns=["video_features"])
    expected = caption_one_by_one(model, processor, video_features=list(validation["video_features"]))
    assert len(set(expected)) > 1
    results = json.loads(predictions.read_text())
    assert results == [{"image_id": f"validation_{i}", "caption": caption} for i, caption in enumerate(expected)]
    scores = json.loads(metrics.read_text())
    references = load_from_disk(feature_dataset_dir)["validation"]["captions"]
    assert scores["split"] == "validation" and scores["num_clips"] == 5
    meteor = scores["metrics"].pop("METEOR")  # None, with a warning, where Java is missing
    assert meteor is None or 0 <= meteor <= 1
    assert scores["metrics"] == pytest.approx(
        {
            name: score
            for name, score in compute_caption_metrics(expected, references, meteor=False).items()
            if score is not None
        },
        abs=1e-12,
    )
    header, row = capsys.readouterr().out.strip().splitlines()[-2:]
    assert header.split() == list(METRIC_NAMES)
    assert row.startswith(f"{folder.name} on validation")
    assert row.split()[-1] == f"{scores['metrics']['CIDEr']:.3f}"


def test_evaluates_a_video_dataset_with_a_vision_backbone(tiny_clips, tmp_path):
    tiny_clips.save_to_disk(tmp_path / "clips")
    processor = VideoCaptioningProcessor.from_captions(
        [c for cs in tiny_clips["train"]["captions"] for c in cs],
        feature_extractor=VideoCaptioningFeatureExtractor(num_frames=4, size=32),
    )
    torch.manual_seed(0)
    backbone = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
    config = S2VTConfig(vocab_size=len(processor.tokenizer), hidden_size=16, frame_embedding_size=8,
                        word_embedding_size=8, initializer_range=0.5, max_caption_length=5, vision_config=backbone)  # fmt: skip
    model = S2VTForVideoCaptioning(config).eval()
    model.save_pretrained(tmp_path / "model")
    processor.save_pretrained(tmp_path / "model")
    predictions = tmp_path / "predictions.json"
    argv = ["evaluate", "--model", str(tmp_path / "model"), "--dataset", str(tmp_path / "clips"),
            "--num-beams", "2", "--predictions-file", str(predictions), "--no-meteor"]  # fmt: skip
    assert main(argv) == 0
    expected = caption_one_by_one(model, processor, videos=tiny_clips["test"]["video_path"])
    assert [r["caption"] for r in json.loads(predictions.read_text())] == expected
    assert [r["image_id"] for r in json.loads(predictions.read_text())] == tiny_clips["test"]["video_id"]


def test_existing_output_files_are_kept(saved_model, feature_dataset_dir, tmp_path, capsys):
    folder, _, _ = saved_model
    (tmp_path / "mine.json").write_text("my notes")
    argv = [
        "evaluate",
        "--model",
        str(folder),
        "--dataset",
        str(feature_dataset_dir),
        "--num-beams",
        "1",
        "--no-meteor",
    ]
    assert main([*argv, "--predictions-file", str(tmp_path / "mine.json")]) == 2
    assert "--predictions-file" in capsys.readouterr().err and (tmp_path / "mine.json").read_text() == "my notes"
    assert main([*argv, "--metrics-file", str(tmp_path / "mine.json"), "--overwrite"]) == 0
    assert json.loads((tmp_path / "mine.json").read_text())["split"] == "test"


@pytest.mark.parametrize(
    "case, message",
    [
        (["--split", "testing"], "The dataset has no split 'testing'; its splits are: train, validation, test."),
        ("no model", "holds no config.json"),
        ("other feature size", "The test split's video_features have 8 values per frame but the model expects 16"),
        ("no dataset", "missing: no such file or folder"),
        (["--predictions-file", "nowhere/p.json"], "--predictions-file nowhere/p.json: the folder"),
        (["--metrics-file", "/proc/m.json"], "--metrics-file /proc/m.json: the folder /proc cannot be written"),
        (
            ["--predictions-file", "./same.json", "--metrics-file", "same.json", "--overwrite"],
            "--predictions-file and --metrics-file are the same file",
        ),
        ("folder as output", "is a folder; pass a file path"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(case, message, saved_model, feature_dataset_dir, tmp_path, capsys):
    folder, dataset = saved_model[0], feature_dataset_dir
    if case == "no model":
        folder, case = tmp_path, []
    elif case == "other feature size":
        config = S2VTConfig(vocab_size=10, video_feature_size=16, hidden_size=8, frame_embedding_size=4,
                            word_embedding_size=4)  # fmt: skip
        S2VTForVideoCaptioning(config).save_pretrained(tmp_path)
        saved_model[2].save_pretrained(tmp_path)
        folder, case = tmp_path, []
    elif case == "no dataset":
        dataset, case = tmp_path / "missing", []
    elif case == "folder as output":  # --overwrite: it used to caption the split, then fail to write
        case = ["--predictions-file", str(tmp_path), "--overwrite"]
    capsys.readouterr()
    assert main(["evaluate", "--model", str(folder), "--dataset", str(dataset), *case]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("hf-vidcap evaluate: error: ") and message in err.splitlines()[-1], err
