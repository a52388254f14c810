"""`hf-vidcap train` (Seq2SeqTrainer): its output is read by `caption` and `evaluate`, resuming is exact, and bad input
is one line with exit status 2."""

import json
import logging

import numpy as np
import pytest
import torch
from datasets import DatasetDict, load_from_disk
from safetensors.torch import load_file
from transformers import (
    AutoModel,
    AutoProcessor,
    ResNetConfig,
    ResNetModel,
    Seq2SeqTrainingArguments,
    TrainerCallback,
)

from hf_vidcap.cli import main
from hf_vidcap.data import extract_video_features_to_disk, load_frame_encoder
from hf_vidcap.processing import VideoCaptioningFeatureExtractor
from hf_vidcap.training import build_seq2seq_trainer, load_or_build_captioner

from .conftest import TINY_S2VT, write_feature_dataset


TINY_RESNET = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")


def train_argv(dataset_dir, output_dir, *extra: str) -> list[str]:
    # 36 (clip, caption) pairs in batches of 8: 5 steps per epoch; the checkpoint at step 3 falls inside the first.
    return [
        "train", "--dataset", str(dataset_dir), "--output-dir", str(output_dir), "--max-steps", "7",
        "--per-device-train-batch-size", "8", "--learning-rate", "0.01", "--save-steps", "3", "--logging-steps", "3",
        "--eval-strategy", "no", "--num-beams", "2", "--seed", "3", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def trained(feature_dataset_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("train") / "run"
    assert main(train_argv(feature_dataset_dir, output, "--model-type", "s2vt", "--config-overrides", TINY_S2VT)) == 0
    return output


def test_output_holds_the_model_processor_and_evaluation(trained, feature_dataset_dir, capsys, tmp_path):
    for name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "checkpoint-6"):
        assert (trained / name).exists(), name
    model = AutoModel.from_pretrained(trained)
    assert model.config.model_type == "vidcap_s2vt" and model.config.hidden_size == 16
    assert model.config.video_feature_size == 8 and model.config.dropout == 0.1
    # Evaluating through Seq2SeqTrainer left the caption length alone (it fills unset generation fields, max_length 20).
    assert model.generation_config.max_length == model.config.max_caption_length + 1
    # Training ends with generated captions of the validation split scored by the trainer; `hf-vidcap evaluate` reads
    # the saved folder, generates on its own (unpadded batches, no trainer) and finds the same scores.
    trainer_scores = json.loads((trained / "eval_results.json").read_text())
    assert trainer_scores["split"] == "validation"  # the card `hf-vidcap push --metrics` makes names it
    assert main(["evaluate", "--model", str(trained), "--dataset", str(feature_dataset_dir), "--split", "validation",
                 "--num-beams", "2", "--metrics-file", str(tmp_path / "m.json"), "--no-meteor"]) == 0  # fmt: skip
    scores = json.loads((tmp_path / "m.json").read_text())["metrics"]
    for name in ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr"):
        assert scores[name] == pytest.approx(trainer_scores[f"eval_{name}"], abs=1e-9), name


def test_resumed_run_ends_with_the_weights_of_an_unbroken_run(trained, feature_dataset_dir, tmp_path):
    # The same run (same seed, same arguments), stopped right after its checkpoint at step 3 ...
    class StopAfterFirstCheckpoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            control.should_training_stop = True

    dataset = load_from_disk(feature_dataset_dir)
    torch.manual_seed(3)
    model, processor = load_or_build_captioner(dataset["train"], model_type="s2vt", config_overrides=TINY_S2VT)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "run"), max_steps=7, per_device_train_batch_size=8, learning_rate=0.01,
        save_steps=3, report_to="none", seed=3, disable_tqdm=True, dataloader_pin_memory=False,
    )  # fmt: skip
    trainer = build_seq2seq_trainer(model, processor, args, dataset["train"], callbacks=[StopAfterFirstCheckpoint()])
    trainer.train()
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == ["checkpoint-3"]

    # ... and resumed with the unbroken run's command.
    argv = train_argv(feature_dataset_dir, tmp_path / "run", "--model-type", "s2vt", "--config-overrides", TINY_S2VT)
    assert main([*argv, "--resume-from-checkpoint", "latest"]) == 0
    unbroken, resumed = load_file(trained / "model.safetensors"), load_file(tmp_path / "run" / "model.safetensors")
    checkpoint = load_file(tmp_path / "run" / "checkpoint-3" / "model.safetensors")
    assert not torch.equal(resumed["lm_head.weight"], checkpoint["lm_head.weight"])
    for name, tensor in unbroken.items():
        assert torch.equal(tensor, resumed[name]), name


def test_trains_on_videos_with_a_vision_backbone_and_captions_them(tiny_clips, tmp_path, capsys):
    tiny_clips.save_to_disk(tmp_path / "clips")
    torch.manual_seed(0)
    ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1])).save_pretrained(tmp_path / "cnn")
    argv = [
        "train", "--dataset", str(tmp_path / "clips"), "--output-dir", str(tmp_path / "run"), "--model-type",
        "mean_pool", "--vision-model", str(tmp_path / "cnn"), "--num-frames", "4", "--frame-size", "32",
        "--config-overrides", "video_embedding_size=8,word_embedding_size=8,hidden_size=16,max_caption_length=5",
        "--max-steps", "2", "--per-device-train-batch-size", "8", "--eval-split", "none", "--num-beams", "1",
    ]  # fmt: skip
    assert main(argv) == 0
    model = AutoModel.from_pretrained(tmp_path / "run")
    assert model.vision_model is not None and model.config.video_feature_size == 16
    capsys.readouterr()
    video = tiny_clips["test"]["video_path"][0]
    assert main(["caption", video, "--model", str(tmp_path / "run"), "--num-beams", "1"]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # one caption (perhaps empty, after two steps)


def test_unreadable_videos_are_named_before_training_starts(tiny_clips, tmp_path, capsys):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video")
    bad = [str(tmp_path / "empty.mp4"), str(tmp_path / "notes.mp4"), str(tmp_path / "gone.mp4")]
    train = tiny_clips["train"]
    paths = list(train["video_path"])
    paths[3], paths[9], paths[14] = bad
    DatasetDict(train=train.remove_columns("video_path").add_column("video_path", paths)).save_to_disk(tmp_path / "d")
    ResNetModel(TINY_RESNET).save_pretrained(tmp_path / "cnn")
    argv = [
        "train", "--dataset", str(tmp_path / "d"), "--output-dir", str(tmp_path / "run"), "--model-type", "mean_pool",
        "--vision-model", str(tmp_path / "cnn"), "--num-frames", "4", "--frame-size", "32", "--eval-split", "none",
    ]  # fmt: skip
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("hf-vidcap train: error: 3 of 16 videos of the train split cannot be read: ")
    assert f"File {bad[0]!r} cannot be opened as a video" in error and f"Video file {bad[2]!r} does not exist" in error
    assert bad[1] in error and "--missing-videos drop" in error
    assert not (tmp_path / "run").exists()


def test_a_vision_model_that_cannot_read_frames_is_refused_before_training(trained, tiny_clips, tmp_path, capsys):
    """Another captioner (or a text model) given as the backbone used to fail with a traceback once training ran."""
    tiny_clips.save_to_disk(tmp_path / "clips")
    argv = train_argv(tmp_path / "clips", tmp_path / "run", "--model-type", "s2vt", "--vision-model", str(trained),
                      "--num-frames", "4", "--frame-size", "32", "--config-overrides", TINY_S2VT)  # fmt: skip
    assert main(argv) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"hf-vidcap train: error: The vision model {trained} (S2VTForVideoCaptioning) cannot ")
    assert "encode 32x32 frames, the size the processor makes" in error and not (tmp_path / "run").exists()

    missing = tmp_path / "resnett"  # a typo of a backbone folder
    argv[argv.index(str(trained))] = str(missing)
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"hf-vidcap train: error: Backbone '{missing}' is neither a local folder") and (
        error.count("\n") == 1
    ), error


@pytest.mark.parametrize(
    "options", [["--config-overrides", "hidden_size=4"], ["--num-frames", "8"], ["--max-vocab-size", "20"]]
)
def test_options_of_a_new_model_are_refused_when_fine_tuning(options, trained, feature_dataset_dir, tmp_path, capsys):
    """They would be ignored: the saved model and processor keep their own."""
    assert main(train_argv(feature_dataset_dir, tmp_path / "run", "--model", str(trained), *options)) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert f"error: {options[0]} shape a new model and processor (--model-type), not the saved ones" in error


def test_keeping_the_vocabulary_needs_a_saved_model(feature_dataset_dir, tmp_path, capsys):
    argv = train_argv(feature_dataset_dir, tmp_path / "run", "--model-type", "s2vt", "--keep-vocabulary")
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("--keep-vocabulary keeps the vocabulary of a saved "
                                                           "model: it needs --model.")  # fmt: skip


def test_resuming_with_other_model_sizes_is_one_line(trained, feature_dataset_dir, tmp_path, capsys):
    other_sizes = TINY_S2VT.replace("hidden_size=16", "hidden_size=12")
    argv = train_argv(feature_dataset_dir, tmp_path / "run", "--model-type", "s2vt", "--config-overrides", other_sizes)
    assert main([*argv, "--resume-from-checkpoint", str(trained / "checkpoint-6")]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("hf-vidcap train: error: Cannot resume from ") and "other sizes" in error
    assert not (tmp_path / "run").exists()  # refused before the trainer made the output folder


def test_an_empty_validation_split_is_not_evaluated_by_default(feature_dataset_dir, tmp_path):
    """A small dataset of one's own often has no validation clip; the loaders still return the split, empty."""
    splits = load_from_disk(feature_dataset_dir)
    empty_validation = DatasetDict({**splits, "validation": splits["validation"].select([])})
    empty_validation.save_to_disk(tmp_path / "data", num_shards={"validation": 1})  # (datasets needs a shard)
    extra = ("--model-type", "s2vt", "--config-overrides", TINY_S2VT, "--max-steps", "1")
    assert main(train_argv(tmp_path / "data", tmp_path / "run", *extra)) == 0
    assert not (tmp_path / "run" / "eval_results.json").exists()


def test_features_from_extract_features_train_a_model_that_captions_videos(tiny_clips, tmp_path, capsys, caplog):
    feature_extractor = VideoCaptioningFeatureExtractor(num_frames=4, size=32)
    torch.manual_seed(0)
    encoder = load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=2)
    extract_video_features_to_disk(tiny_clips, tmp_path / "features", encoder, feature_extractor)
    argv = [
        "train", "--dataset", str(tmp_path / "features"), "--output-dir", str(tmp_path / "run"), "--model-type",
        "s2vt", "--config-overrides", TINY_S2VT, "--max-steps", "1", "--eval-split", "none",
    ]  # fmt: skip
    assert main(argv) == 0
    model = AutoModel.from_pretrained(tmp_path / "run").eval()
    assert model.config.vision_feature_pooling == "grid" and model.config.video_feature_size == 64
    # The saved model holds the extraction's backbone and frame preprocessing: from the video file it computes the
    # very features it was trained on.
    processor = AutoProcessor.from_pretrained(tmp_path / "run")
    row = load_from_disk(tmp_path / "features")["test"].with_format("numpy")[0]
    inputs = processor(videos=[row["video_path"]], return_tensors="pt")
    with torch.inference_mode():
        features = model.vision_model(inputs["pixel_values_videos"], inputs["video_attention_mask"])[0]
    np.testing.assert_allclose(features.numpy(), row["video_features"], rtol=1e-4, atol=1e-5)
    capsys.readouterr()
    assert main(["caption", row["video_path"], "--model", str(tmp_path / "run"), "--num-beams", "1"]) == 0

    # Features of another ResNet of the same width (as ResNet-50 and ResNet-101 both give 2048 values) would teach, or
    # score, the model on features it does not compute from video files: refused, by the weights' digest.
    torch.manual_seed(1)
    other = load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=2)
    extract_video_features_to_disk(tiny_clips, tmp_path / "other", other, feature_extractor)
    other.backbone.save_pretrained(tmp_path / "other-resnet")
    refusals = [
        ["train", "--dataset", str(tmp_path / "other"), "--output-dir", str(tmp_path / "tuned"), "--model",
         str(tmp_path / "run"), "--max-steps", "1", "--eval-split", "none"],
        ["evaluate", "--model", str(tmp_path / "run"), "--dataset", str(tmp_path / "other"), "--no-meteor"],
        ["train", "--dataset", str(tmp_path / "features"), "--output-dir", str(tmp_path / "new"), "--model-type",
         "s2vt", "--config-overrides", f"{TINY_S2VT},vision_feature_pooling=grid,vision_feature_grid_size=2",
         "--vision-model", str(tmp_path / "other-resnet"), "--max-steps", "1", "--eval-split", "none"],
    ]  # fmt: skip
    for refused in refusals:
        capsys.readouterr()
        assert main(refused) == 2, refused
        error = capsys.readouterr().err.splitlines()[-1]
        assert "were extracted by another frame backbone than the one inside the model" in error, error
    pooled_otherwise = [  # the backbone of the extraction, pooled by 'mean' (the default)
        "train", "--dataset", str(tmp_path / "features"), "--output-dir", str(tmp_path / "new"), "--model-type",
        "s2vt", "--config-overrides", TINY_S2VT, "--vision-model", str(tmp_path / "features" / "backbone"),
    ]  # fmt: skip
    assert main(pooled_otherwise) == 2
    assert "were pooled by 'grid' (grid 2), the model pools its backbone's output by 'mean'" in capsys.readouterr().err

    # The same backbone over frames made otherwise (48 px, not 32) gives other features: refused too.
    torch.manual_seed(0)
    same = load_frame_encoder(TINY_RESNET, pooling="grid", grid_size=2)
    bigger = VideoCaptioningFeatureExtractor(num_frames=4, size=48)
    extract_video_features_to_disk(tiny_clips, tmp_path / "bigger", same, bigger)
    frames_differ = [
        ["train", "--dataset", str(tmp_path / "bigger"), "--output-dir", str(tmp_path / "tuned"), "--model",
         str(tmp_path / "run"), "--max-steps", "1", "--eval-split", "none"],
        ["evaluate", "--model", str(tmp_path / "run"), "--dataset", str(tmp_path / "bigger"), "--no-meteor"],
        [*argv[:4], str(tmp_path / "new"), *argv[5:], "--frame-size", "48"],  # a new model, features of 32 px
    ]  # fmt: skip
    for refused, (extracted, made) in zip(frames_differ, [(48, 32), (48, 32), (32, 48)]):
        capsys.readouterr()
        assert main(refused) == 2, refused
        error = capsys.readouterr().err.splitlines()[-1]
        assert f"were extracted from frames made with size {{'height': {extracted}, 'width': {extracted}}} (the " \
               f"processor's: {{'height': {made}, 'width': {made}}}): it would learn from" in error, error  # fmt: skip
    assert not (tmp_path / "tuned").exists() and not (tmp_path / "new").exists()

    # Frames sampled otherwise (6 a video, not 4) give features each like the model's: a warning, not an error.
    denser = VideoCaptioningFeatureExtractor(num_frames=6, size=32)
    extract_video_features_to_disk(tiny_clips, tmp_path / "denser", same, denser)
    with caplog.at_level(logging.WARNING):
        assert (
            main(["evaluate", "--model", str(tmp_path / "run"), "--dataset", str(tmp_path / "denser"), "--no-meteor"])
            == 0
        )
    assert (
        "were extracted from frames sampled with num_frames 6 (the processor's: 4): the model learns from"
        in caplog.text
    )


@pytest.fixture(scope="module")
def dataset_without_captions(tmp_path_factory):
    path = tmp_path_factory.mktemp("nocaptions") / "dataset"
    write_feature_dataset(path, {"train": 2}).remove_columns("captions").save_to_disk(path.with_name("stripped"))
    return path.with_name("stripped")


@pytest.mark.parametrize(
    "case, message",
    [
        (["--model-type", "lstm9"], "Unknown captioning architecture 'lstm9'; available: "),
        (["--model-type", "s2vt", "--train-split", "training"], "no split 'training'; its splits are: train,"),
        (["--model-type", "s2vt", "--config-overrides", "hidden_size"], "not of the form field=value"),
        (["--model-type", "s2vt", "--config-overrides", "hidden=3"], "key hidden isn't in the original config"),
        (["--model-type", "s2vt", "--config-overrides", "hidden_size=big"], "invalid literal for int()"),
        ("no captions", "The training split has no `captions` column"),
        ("other feature size", "The train split's video_features have 8 values per frame but the model expects 6"),
        ("not empty", "is not empty; pass a new folder, or resume"),
        (
            ["--model-type", "s2vt", "--report-to", "tensorboard,nonsense"],
            "nonsense is not a tracker transformers knows (azure_ml, clearml,",
        ),
        (["--model-type", "s2vt", "--report-to", "none,swanlab"], "swanlab is not installed; installed: "),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(
    case, message, feature_dataset_dir, dataset_without_captions, tmp_path, capsys
):
    dataset, output, user_files = feature_dataset_dir, tmp_path / "run", []
    if case == "no captions":
        dataset, case = dataset_without_captions, ["--model-type", "s2vt"]
    elif case == "other feature size":
        train = write_feature_dataset(tmp_path / "six", {"train": 2}, feature_size=6)["train"]
        model, processor = load_or_build_captioner(train, model_type="s2vt", config_overrides=TINY_S2VT)
        model.save_pretrained(tmp_path / "six_model")
        processor.save_pretrained(tmp_path / "six_model")
        case = ["--model", str(tmp_path / "six_model")]
    elif case == "not empty":
        output.mkdir()
        (output / "notes.txt").write_text("mine")
        case, user_files = ["--model-type", "s2vt"], ["notes.txt"]
    capsys.readouterr()
    assert main(train_argv(dataset, output, *case)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last_line = err.splitlines()[-1]
    assert last_line.startswith("hf-vidcap train: error: ") and message in last_line, err
    # A refused run leaves the user's files as they were, and no empty folder behind.
    if user_files:
        assert sorted(path.name for path in output.iterdir()) == user_files
    else:
        assert not output.exists()
