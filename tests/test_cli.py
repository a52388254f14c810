"""The `hf-vidcap` command: captions printed per video, user errors as one line and exit status 2."""

import argparse
import re
import runpy
import shutil
import subprocess

import pytest
import torch
from tqdm import tqdm
from transformers import ResNetConfig

from hf_vidcap import S2VTConfig, S2VTForVideoCaptioning
from hf_vidcap.cli import build_parser, main
from hf_vidcap.processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor


@pytest.fixture(scope="module")
def saved_model(tiny_clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    captions = [c for cs in tiny_clips["train"]["captions"] for c in cs]
    processor = VideoCaptioningProcessor.from_captions(
        captions, feature_extractor=VideoCaptioningFeatureExtractor(num_frames=8, size={"height": 32, "width": 32})
    )
    torch.manual_seed(0)
    config = S2VTConfig(
        vocab_size=len(processor.tokenizer),
        hidden_size=16,
        frame_embedding_size=8,
        word_embedding_size=8,
        initializer_range=0.5,
        max_caption_length=6,
        vision_config=ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"),
    )
    model = S2VTForVideoCaptioning(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder, model, processor


def test_caption_prints_one_caption_per_video(saved_model, tiny_clips, capsys):
    folder, model, processor = saved_model
    videos = tiny_clips["test"]["video_path"][:3]
    assert main(["caption", *videos, "--model", str(folder), "--num-beams", "3", "--batch-size", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    expected = processor.batch_decode(model.generate(**processor(videos=videos, return_tensors="pt"), num_beams=3))
    assert lines == [f"{video}\t{caption}" for video, caption in zip(videos, expected)]


def test_caption_of_a_single_video_prints_just_the_caption(saved_model, tiny_clips, capsys):
    folder, model, processor = saved_model
    video = tiny_clips["test"]["video_path"][0]
    assert main(["caption", video, "--model", str(folder), "--num-beams", "1"]) == 0
    expected = processor.batch_decode(model.generate(**processor(videos=[video], return_tensors="pt")))[0]
    assert capsys.readouterr().out.strip() == expected


@pytest.mark.parametrize(
    "make_video, message",
    [
        (lambda tmp: tmp / "missing.mp4", "missing.mp4"),
        (lambda tmp: (tmp / "notes.mp4").write_text("not a video") and tmp / "notes.mp4", "notes.mp4"),
    ],
)
def test_bad_video_is_one_line_and_exit_status_2(saved_model, tmp_path, capsys, make_video, message):
    folder, _, _ = saved_model
    video = make_video(tmp_path)
    assert main(["caption", str(video), "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hf-vidcap caption: error:") and message in err and "Traceback" not in err


def test_a_bad_video_in_a_later_batch_is_named_by_its_path_alone(saved_model, tiny_clips, tmp_path, capsys):
    folder, _, _ = saved_model
    videos = [*tiny_clips["test"]["video_path"][:3], str(tmp_path / "missing.mp4")]
    assert main(["caption", *videos, "--model", str(folder), "--batch-size", "2"]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "missing.mp4") in err and "videos[" not in err, err  # not `videos[1]` of the second batch


def test_an_error_during_a_progress_bar_gets_a_line_of_its_own(monkeypatch, capsys):
    def fail_halfway(args):
        bar = tqdm(total=4)
        bar.update(1)
        raise ValueError("videos[1]: broken.mp4: not a video")

    parser = build_parser()
    monkeypatch.setattr("hf_vidcap.cli.build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="train", handler=fail_halfway))
    assert main(["train"]) == 2
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line == "hf-vidcap train: error: videos[1]: broken.mp4: not a video", last_line


def test_folder_without_a_model_is_reported(tmp_path, tiny_clips, capsys):
    assert main(["caption", tiny_clips["test"]["video_path"][0], "--model", str(tmp_path)]) == 2
    assert "no config.json" in capsys.readouterr().err


def test_model_without_a_vision_backbone_is_reported(tmp_path, tiny_clips, capsys):
    config = S2VTConfig(
        vocab_size=10, video_feature_size=4, hidden_size=8, frame_embedding_size=4, word_embedding_size=4
    )
    S2VTForVideoCaptioning(config).save_pretrained(tmp_path)
    processor = VideoCaptioningProcessor.from_captions(["a b c"], feature_extractor=VideoCaptioningFeatureExtractor())
    processor.save_pretrained(tmp_path)
    assert main(["caption", tiny_clips["test"]["video_path"][0], "--model", str(tmp_path)]) == 2
    assert "no vision backbone" in capsys.readouterr().err


def test_an_output_path_the_system_refuses_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--num-clips", "4", "--output", str(tmp_path / "notes.txt" / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hf-vidcap demo: error: ") and "Not a directory" in err and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_demo_names_an_unknown_architecture_before_rendering(tmp_path, capsys):
    assert main(["demo", "--model", "lstm9", "--output", str(tmp_path / "demo")]) == 2
    assert "Unknown captioning architecture 'lstm9'" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


def test_console_script_is_installed():
    executable = shutil.which("hf-vidcap")
    assert executable, "the hf-vidcap console script is not on PATH (pip install -e . installs it)"
    result = subprocess.run([executable, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "caption" in result.stdout and "demo" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["caption", "a.mp4", "--model", "m", "--num-beams", "0"],
        ["evaluate", "--model", "m", "--dataset", "d", "--batch-size", "0"],
        ["train", "--dataset", "d", "--output-dir", "o", "--per-device-train-batch-size", "-1"],
        ["extract-features", "--dataset", "d", "--output", "o", "--vision-model", "v", "--chunk-size", "0"],
        ["demo", "--num-clips", "-1"],
        ["demo", "--epochs", "0"],
    ],
)
def test_counts_and_sizes_below_one_are_usage_errors(argv, capsys):
    """A beam count or batch size of 0 failed deep inside (a ZeroDivisionError, or after the training steps had run);
    the demo rendered -1 clips, or trained 0 epochs and scored the untrained model."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert re.search(r"must be (at least 1|above 0)", capsys.readouterr().err.splitlines()[-1])


def test_ctrl_c_is_one_line_and_exit_status_130(monkeypatch, capsys):
    def interrupted(args):
        bar = tqdm(total=4)
        bar.update(1)
        raise KeyboardInterrupt

    parser = build_parser()
    monkeypatch.setattr("hf_vidcap.cli.build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: argparse.Namespace(command="train", handler=interrupted))
    assert main(["train"]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == "hf-vidcap train: interrupted"


@pytest.mark.parametrize("num_beams, num_candidates", [(3, 2), (1, 1)])
def test_caption_videos_example_ranks_candidates_greedy_or_beam(
    saved_model, tiny_clips, repo_root, monkeypatch, capsys, num_beams, num_candidates
):
    folder, model, processor = saved_model
    videos = tiny_clips["test"]["video_path"][:2]
    argv = ["caption_videos.py", *videos, "--model", str(folder), "--num-beams", str(num_beams),
            "--num-candidates", str(num_candidates)]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    runpy.run_path(str(repo_root / "examples" / "caption_videos.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == videos[0] and lines[1 + num_candidates] == videos[1]
    scores = [float(line.split()[0]) for line in lines if line.startswith("  ")]
    assert len(scores) == 2 * num_candidates and all(score <= 0 for score in scores)  # log-probabilities
    if num_beams == 1:  # the greedy caption's log-probability, as the model gives it
        inputs = processor(videos=videos[:1], return_tensors="pt")
        ids = model.generate(**inputs, num_beams=1)
        log_probs = model(**inputs, input_ids=ids[:, :-1]).logits.log_softmax(-1)
        expected = log_probs.gather(2, ids[:, 1:, None]).sum().item()
        assert scores[0] == pytest.approx(expected, abs=2e-3)


def test_caption_videos_example_refuses_more_candidates_than_beams(saved_model, repo_root, monkeypatch, capsys):
    monkeypatch.setattr("sys.argv", ["caption_videos.py", "a.mp4", "--model", str(saved_model[0]), "--num-beams", "2"])
    with pytest.raises(SystemExit):
        runpy.run_path(str(repo_root / "examples" / "caption_videos.py"), run_name="__main__")
    assert "--num-candidates must be between 1 and --num-beams" in capsys.readouterr().err


def test_help_shows_each_default(capsys):
    """`train`'s defaults are not the Trainer's (batch 64, not 8; learning rate 1e-3, not 5e-5): the help says them."""
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--per-device-train-batch-size PER_DEVICE_TRAIN_BATCH_SIZE (default: 64)" in help_text
    assert "--learning-rate LEARNING_RATE (default: 0.001)" in help_text
    assert "(default: None)" not in help_text and "(default: False)" not in help_text
