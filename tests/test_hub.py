"""Publishing on the Hub: the real `huggingface_hub` client pushes to a stand-in Hub on loopback (`tests/hub_server.py`);
the test checks what arrived, the generated model card, and runs the card's usage snippet by repository id in a fresh
interpreter where hf_vidcap cannot be imported."""

import json
import re
import runpy
import shutil
import sys

import huggingface_hub
import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard, constants
from transformers import BertConfig, ResNetConfig
from transformers.utils import hub as transformers_hub

from hf_vidcap import (
    G2LConfig,
    G2LForVideoCaptioning,
    S2VTConfig,
    S2VTForVideoCaptioning,
    VideoCaptioningFeatureExtractor,
    VideoCaptioningProcessor,
)
from hf_vidcap.cli import main
from hf_vidcap.hub import create_model_card, load_metrics, push_to_hub
from hf_vidcap.modeling.base import VideoStream

from .conftest import TINY_CLIPS
from .helpers import TINY_VIDEOMAE, run_without_hf_vidcap
from .hub_server import StandInHub
from .training.conftest import write_feature_dataset


TOKEN = "hf_stand_in_token"
TINY_RESNET = dict(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
SCORES = {"Bleu_4": 0.41, "METEOR": None, "ROUGE_L": 0.62, "CIDEr": 0.73}

# huggingface_hub's LFS upload hands a file object to httpx as `data`, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The stand-in Hub, and this process's `huggingface_hub` pointed at it with a token it accepts."""
    with StandInHub(token=TOKEN) as hub, pytest.MonkeyPatch.context() as patch:
        # huggingface_hub reads HF_ENDPOINT, HF_HUB_DISABLE_XET and HF_HOME once, when imported; a subprocess gets
        # them as environment variables instead (`run_without_hf_vidcap(..., hub_endpoint=hub.url)`).
        patch.setattr(constants, "ENDPOINT", hub.url)
        patch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
        patch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # the stand-in speaks LFS, not Xet
        patch.setattr(constants, "HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf_cache")))
        # transformers keeps one `HfApi`, made (with the endpoint of the moment) the first time any test needs it.
        patch.setattr(transformers_hub, "_hf_api", None)
        patch.setenv("HF_TOKEN", TOKEN)
        yield hub


@pytest.fixture(scope="module")
def processor(tiny_clips):
    captions = [caption for captions in tiny_clips["train"]["captions"] for caption in captions]
    extractor = VideoCaptioningFeatureExtractor(num_frames=TINY_CLIPS.num_frames, size=TINY_CLIPS.height)
    return VideoCaptioningProcessor.from_captions(captions, feature_extractor=extractor)


def tiny_s2vt(processor, seed: int = 0, **config) -> S2VTForVideoCaptioning:
    """A tiny S2VT with large random weights, so that its captions are several different words."""
    torch.manual_seed(seed)
    sizes = dict(frame_embedding_size=8, word_embedding_size=8, hidden_size=12, initializer_range=0.5)
    return S2VTForVideoCaptioning(S2VTConfig(vocab_size=len(processor.tokenizer), **sizes, **config)).eval()


@pytest.fixture(scope="module")
def video_model(processor):
    """Captions video files: a frozen tiny ResNet inside, a 2x2 grid per frame, standardized features."""
    return tiny_s2vt(
        processor,
        vision_config=ResNetConfig(**TINY_RESNET),
        vision_feature_pooling="grid",
        vision_feature_grid_size=2,
        standardize_video_features=True,
    )


@pytest.fixture(scope="module")
def saved_video_model(video_model, processor, tmp_path_factory):
    folder = tmp_path_factory.mktemp("video_model")
    video_model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def pushed(hub, video_model, processor, tmp_path_factory):
    """A captioner of videos pushed as objects with scores, and one of precomputed features pushed as a folder."""
    video_commit = push_to_hub(
        video_model,
        "vidcap/s2vt-video",
        processor,
        dataset="msvd",
        metrics=SCORES,
        license="mit",
        vision_model="microsoft/resnet-18",
    )
    features_folder = tmp_path_factory.mktemp("features_model")
    tiny_s2vt(processor, seed=1, video_feature_size=6).save_pretrained(features_folder)
    processor.save_pretrained(features_folder)
    features_commit = push_to_hub(features_folder, "s2vt-features")  # in the namespace of the token's user
    return {"video": video_commit, "features": features_commit, "features_folder": features_folder}


def test_push_uploads_every_saved_file_unchanged_and_a_card_in_one_commit(hub, pushed, saved_video_model):
    assert pushed["video"].repo_url.repo_id == "vidcap/s2vt-video"
    files = hub.files("vidcap/s2vt-video")
    local = {path.name: path.read_bytes() for path in saved_video_model.iterdir()}
    for name in ("config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "s2vt.py", "base.py"):
        assert name in local, name
    assert set(files) == set(local) | {"README.md", ".gitattributes"}
    for name, content in local.items():
        assert files[name] == content, f"{name} differs from the local save"
    assert hub.lfs_paths("vidcap/s2vt-video") == {"model.safetensors"}  # weights went through the LFS upload
    commits = hub.repositories["vidcap/s2vt-video"].commits
    assert [commit.message for commit in commits] == ["initial commit", "Upload video captioning model"]
    assert pushed["video"].oid == commits[-1].oid

    assert pushed["features"].repo_url.repo_id == "user/s2vt-features"
    folder = pushed["features_folder"]
    assert {
        name: content for name, content in hub.files("user/s2vt-features").items() if (folder / name).exists()
    } == {path.name: path.read_bytes() for path in folder.iterdir()}


def test_card_metadata_and_description(hub, pushed, video_model):
    parameters = sum(p.numel() for p in video_model.parameters())
    frozen_backbone = sum(p.numel() for p in video_model.vision_model.parameters())
    card = ModelCard(hub.files("vidcap/s2vt-video")["README.md"].decode())
    assert card.data.library_name == "transformers"
    assert card.data.pipeline_tag == "video-text-to-text"
    assert card.data.license == "mit"
    assert card.data.datasets == ["msvd"]
    assert {"video-captioning", "vidcap_s2vt", "custom_code"} <= set(card.data.tags)
    assert sorted(card.data.metrics) == ["bleu", "cider", "rouge"]
    results = {(result.metric_type, result.metric_name, result.metric_value) for result in card.data.eval_results}
    assert results == {("bleu", "BLEU-4", 0.41), ("rouge", "ROUGE-L", 0.62), ("cider", "CIDEr-D", 0.73)}  # no METEOR
    assert {(result.dataset_type, result.dataset_split) for result in card.data.eval_results} == {("msvd", "test")}
    text = card.text
    for fact in (
        "`S2VTForVideoCaptioning` (`vidcap_s2vt`)",
        "S2VT: Sequence to Sequence -- Video to Text (Venugopalan et al., ICCV 2015)",
        "trained on msvd",
        f"| frames per video | {TINY_CLIPS.num_frames}, sampled uniformly",
        f"| frame size | {TINY_CLIPS.height}x{TINY_CLIPS.width}",
        "ResNet (`resnet`) inside the model, frozen, initialised from `microsoft/resnet-18`",
        "2x2 grid of average-pooled cells, concatenated (keeps coarse spatial layout): 64 values",
        "| standardization |",
        f"| parameters | {parameters:,} ({parameters - frozen_backbone:,} trained, the rest frozen) |",
        "| CIDEr-D | 0.7300 |",
        'AutoModel.from_pretrained("vidcap/s2vt-video", trust_remote_code=True)',
    ):
        assert fact in text, fact

    features_card = ModelCard(hub.files("user/s2vt-features")["README.md"].decode())
    assert features_card.data.eval_results is None and features_card.data.datasets is None
    assert "precomputed frame features, `video_features` of shape `(num_frames, 6)` per video" in features_card.text
    assert "grid" not in features_card.text and "| standardization |" not in features_card.text
    # its processor's frame settings are defaults that never made those features
    assert "| frames per video |" not in features_card.text and "| frame size |" not in features_card.text


class TwoStreamS2VT(S2VTForVideoCaptioning):
    """An architecture that also reads clip features, which it computes from frames, and region features, which it
    cannot (as G2L does with only a frame backbone)."""

    def video_streams(self):
        return VideoStream("clip_features", 5), VideoStream("region_features", 4, frame_stride=3, num_regions=2)

    def encode_pixel_streams(self, pixel_values_videos, video_attention_mask, names):
        streams = {"clip_features": torch.zeros(*pixel_values_videos.shape[:2], 5)} if "clip_features" in names else {}
        rest = [name for name in names if name not in streams]
        return {
            **streams,
            **(super().encode_pixel_streams(pixel_values_videos, video_attention_mask, rest) if rest else {}),
        }


@pytest.mark.parametrize("with_backbone", [False, True])
def test_card_asks_for_the_streams_the_model_cannot_compute_from_frames(processor, with_backbone):
    backbone = dict(vision_config=ResNetConfig(**TINY_RESNET)) if with_backbone else dict(video_feature_size=6)
    config = S2VTConfig(vocab_size=len(processor.tokenizer), hidden_size=4, **backbone)
    text = create_model_card(TwoStreamS2VT(config), processor, "vidcap/two-streams").text
    frames = TINY_CLIPS.num_frames
    region_steps = -(-frames // 3)
    assert "precomputed `region_features` of shape `(ceil(num_frames / 3), 2, 4)` per video" in text
    assert f'inputs["region_features"] = torch.randn(1, {region_steps}, 2, 4)' in text
    computed = "| also computed | `clip_features` of shape `(num_frames, 5)` per video, from the frames |"
    assert (computed in text) is with_backbone
    assert ("precomputed `clip_features` of shape `(num_frames, 5)`" in text) is not with_backbone
    assert (f'inputs["clip_features"] = torch.randn(1, {frames}, 5)' in text) is not with_backbone
    assert ('processor(videos=["video.mp4"]' in text) is with_backbone


def test_card_names_every_backbone_inside_the_model(processor):
    """G2L computing its clip features with a video model of its own: the card names that model beside the frame
    backbone, and says the streams are computed from the frames."""
    config = G2LConfig(
        vocab_size=len(processor.tokenizer),
        vision_config=ResNetConfig(**TINY_RESNET),
        clip_vision_config=TINY_VIDEOMAE,
        num_regions=4,
        projection_size=4,
        attention_size=4,
        word_embedding_size=4,
        hidden_size=4,
    )
    text = create_model_card(G2LForVideoCaptioning(config), processor, "vidcap/g2l").text
    assert "| vision backbone | ResNet (`resnet`) inside the model, frozen |" in text
    assert "| clip vision backbone | VideoMAE (`videomae`) inside the model |" in text
    assert "| also computed | `clip_features` of shape `(num_frames, 12)` per video, from the frames |" in text
    assert "`region_features` of shape `(ceil(num_frames / 3), 4, 16)` per video, from the frames |" in text
    assert "precomputed `" not in text and "torch.randn" not in text


def test_pushed_repositories_load_by_id_without_hf_vidcap_and_their_snippets_work(
    hub, pushed, video_model, processor, tiny_clips, tmp_path
):
    """Each card's usage snippet, exactly as pushed, runs where only the stand-in Hub has the model: the video one
    captions `video.mp4`, the features one random features; both print what the local models say."""
    snippets = []
    for index, repo_id in enumerate(("vidcap/s2vt-video", "user/s2vt-features")):
        card = hub.files(repo_id)["README.md"].decode()
        (snippet,) = re.findall(r"```python\n(.*?)```", card, re.DOTALL)
        (tmp_path / f"snippet_{index}.py").write_text(snippet)
        snippets.append(f"snippet_{index}.py")
    video = tiny_clips["test"][0]["video_path"]
    shutil.copy(video, tmp_path / "video.mp4")
    result = run_without_hf_vidcap(
        """
        import contextlib, io, json, sys
        runs = []
        for path in sys.argv[1:]:
            namespace, printed = {}, io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(open(path).read(), namespace)
            features = namespace.get("video_features")
            runs.append({"printed": printed.getvalue(), "features": features and [f.tolist() for f in features]})
        print(json.dumps(runs))
        """,
        tmp_path,
        *snippets,
        hub_endpoint=hub.url,
    )
    video_run, features_run = json.loads(result.stdout.strip().splitlines()[-1])

    with torch.inference_mode():
        ids = video_model.generate(**processor(videos=[video], return_tensors="pt"), num_beams=5)
    expected = processor.batch_decode(ids)[0]
    assert len(expected.split()) >= 2, "the tiny model should say something to compare"
    assert video_run["printed"] == expected + "\n"

    features_model = S2VTForVideoCaptioning.from_pretrained(pushed["features_folder"]).eval()
    with torch.inference_mode():
        inputs = processor(video_features=[torch.tensor(features_run["features"][0])], return_tensors="pt")
        expected = processor.batch_decode(features_model.generate(**inputs, num_beams=5))[0]
    assert features_run["printed"] == expected + "\n"


def test_transformers_push_to_hub_afterwards_keeps_the_card(hub, processor, saved_video_model):
    push_to_hub(saved_video_model, "vidcap/retrained", dataset="msvd", metrics=SCORES)
    card = hub.files("vidcap/retrained")["README.md"]
    retrained = tiny_s2vt(processor, seed=2, vision_config=ResNetConfig(**TINY_RESNET))
    retrained.push_to_hub("vidcap/retrained")
    files = hub.files("vidcap/retrained")
    assert files["model.safetensors"] != (saved_video_model / "model.safetensors").read_bytes()
    assert files["README.md"] == card


def test_cli_pushes_a_folder_with_scores_from_an_evaluation(hub, saved_video_model, tmp_path, capsys):
    scores = tmp_path / "scores.json"
    scores.write_text(json.dumps({"model": "m", "split": "validation", "num_clips": 4, "metrics": SCORES}))
    argv = ["push", str(saved_video_model), "--repo-id", "vidcap/from-cli", "--dataset", "msr-vtt"]
    assert main([*argv, "--metrics", str(scores), "--license", "apache-2.0", "--tag", "tiny"]) == 0
    commit = hub.repositories["vidcap/from-cli"].head
    assert f"Pushed {saved_video_model} to {hub.url}/vidcap/from-cli" in capsys.readouterr().out
    card = ModelCard(commit.files["README.md"].content.decode())
    assert {(result.dataset_name, result.dataset_split) for result in card.data.eval_results} == {
        ("msr-vtt", "validation")
    }
    assert card.data.license == "apache-2.0" and "tiny" in card.data.tags


def test_a_card_in_the_folder_is_pushed_instead_of_a_generated_one(hub, saved_video_model, tmp_path):
    folder = tmp_path / "with_card"
    shutil.copytree(saved_video_model, folder)
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# My own card\n")
    push_to_hub(folder, "vidcap/own-card", dataset="msvd")
    assert hub.files("vidcap/own-card")["README.md"] == b"---\nlicense: mit\n---\n# My own card\n"
    assert (folder / "README.md").read_text() == "---\nlicense: mit\n---\n# My own card\n"


def test_publish_example_previews_the_card_it_then_pushes(
    hub, saved_video_model, repo_root, tmp_path, capsys, monkeypatch
):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"metrics": SCORES, "seconds": 90}))
    argv = ["publish.py", "--model", str(saved_video_model), "--repo-id", "vidcap/example", "--dataset", "msvd"]
    monkeypatch.setattr(sys, "argv", [*argv, "--results", str(results), "--preview"])
    runpy.run_path(str(repo_root / "examples" / "publish.py"), run_name="__main__")
    preview = capsys.readouterr().out
    assert "vidcap/example" not in hub.repositories
    monkeypatch.setattr(sys, "argv", [*argv, "--results", str(results)])
    runpy.run_path(str(repo_root / "examples" / "publish.py"), run_name="__main__")
    assert f"Pushed to {hub.url}/vidcap/example" in capsys.readouterr().out
    assert hub.files("vidcap/example")["README.md"].decode() + "\n" == preview


def test_pushing_a_model_object_needs_its_processor_and_scores_need_a_dataset(hub, video_model, processor):
    repositories = set(hub.repositories)
    with pytest.raises(ValueError, match="Pass the model's `processor`"):
        push_to_hub(video_model, "vidcap/refused")
    with pytest.raises(ValueError, match="Scores need the dataset they were measured on"):
        push_to_hub(video_model, "vidcap/refused", processor, metrics=SCORES)
    with pytest.raises(ValueError, match="Score 'CIDEr' must be a finite number"):
        push_to_hub(video_model, "vidcap/refused", processor, dataset="msvd", metrics={"CIDEr": "high"})
    with pytest.raises(ValueError, match="`metrics` must map metric names to scores, got a list"):
        push_to_hub(video_model, "vidcap/refused", processor, dataset="msvd", metrics=[("CIDEr", 0.5)])
    with pytest.raises(ValueError, match="Metric names must be strings, got 1"):
        push_to_hub(video_model, "vidcap/refused", processor, dataset="msvd", metrics={1: 0.5})
    assert set(hub.repositories) == repositories


def test_card_takes_numpy_and_torch_scores_and_a_single_tag(video_model, processor):
    """Scores as evaluate and compute loops give them, and one tag given as a string (not split into letters)."""
    scores = {"CIDEr": np.float32(0.5), "Bleu_4": torch.tensor(0.25), "METEOR": None}
    card = create_model_card(video_model, processor, "vidcap/numpy", dataset="msvd", metrics=scores, tags="tiny")
    assert {result.metric_name: result.metric_value for result in card.data.eval_results} == {
        "CIDEr-D": 0.5,
        "BLEU-4": 0.25,
    }
    assert "tiny" in card.data.tags and "t" not in card.data.tags
    with pytest.raises(ValueError, match="is not a Hub repository id"):  # it would go into the snippet's code
        create_model_card(video_model, processor, 'me/x"); import os; os.system("echo pwned')
    # Only missing scores: nothing to report, so no dataset needed.
    assert create_model_card(video_model, processor, "vidcap/none", metrics={"METEOR": None}).data.eval_results is None


def test_a_flat_metrics_file_names_its_split(tmp_path):
    (tmp_path / "flat.json").write_text(json.dumps({"CIDEr": 0.5, "split": "val"}))
    assert load_metrics(tmp_path / "flat.json") == ({"CIDEr": 0.5}, "val")


def test_a_card_from_trainer_evaluate_lists_caption_scores_on_validation(video_model, processor):
    scores = {
        "eval_loss": 2.5,
        "eval_CIDEr": 0.5,
        "eval_runtime": 0.03,
        "eval_samples_per_second": 314.6,
        "epoch": 6.0,
    }
    card = create_model_card(video_model, processor, "vidcap/trainer", dataset="msvd", metrics=scores)
    assert [(result.metric_name, result.dataset_split) for result in card.data.eval_results] == [
        ("CIDEr-D", "validation")
    ]


def test_a_trainer_metrics_file_gives_its_scores_without_the_runs_bookkeeping(tmp_path):
    trainer_file = {"epoch": 6.0, "eval_Bleu_4": 0.25, "eval_CIDEr": 0.5, "eval_loss": 2.5, "eval_runtime": 0.03,
                    "eval_samples_per_second": 314.6, "eval_steps_per_second": 39.3}  # fmt: skip
    (tmp_path / "eval_results.json").write_text(json.dumps(trainer_file))
    scores = {"Bleu_4": 0.25, "CIDEr": 0.5}  # the loss, runtime, throughput and epoch are no caption scores
    assert load_metrics(tmp_path / "eval_results.json") == (scores, "validation")  # evaluate() scores validation
    (tmp_path / "eval_results.json").write_text(json.dumps({**trainer_file, "split": "test"}))
    assert load_metrics(tmp_path / "eval_results.json") == (scores, "test")
    predict_file = {name.replace("eval_", "test_"): value for name, value in trainer_file.items()}
    (tmp_path / "test_results.json").write_text(json.dumps(predict_file))
    assert load_metrics(tmp_path / "test_results.json") == (scores, "test")


def model_without_processor(folder, processor):
    tiny_s2vt(processor).save_pretrained(folder)


def bert_folder(folder, processor):
    BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2).save_pretrained(folder)


def corrupt_weights(folder, processor):
    tiny_s2vt(processor).save_pretrained(folder)
    processor.save_pretrained(folder)
    (folder / "model.safetensors").write_text("garbage")


def without_code_file(name):
    def make(folder, processor):
        tiny_s2vt(processor).save_pretrained(folder)
        processor.save_pretrained(folder)
        (folder / name).unlink()

    return make


def processor_of_other_captions(folder, processor):
    tiny_s2vt(processor).save_pretrained(folder)
    VideoCaptioningProcessor.from_captions(["another vocabulary altogether"]).save_pretrained(folder)


@pytest.mark.parametrize(
    "make_folder, extra_args, message",
    [
        (None, [], "is not a folder"),
        (bert_folder, [], "holds a 'bert' model, not an hf_vidcap captioner"),
        (model_without_processor, [], "has no processor (processor_config.json)"),
        (processor_of_other_captions, [], "not the processor the model was trained with"),
        (corrupt_weights, [], "does not load"),
        (without_code_file("s2vt.py"), [], "without the code files that `trust_remote_code=True` loads (s2vt.py)"),
        # Imported by s2vt.py: the published repository would not load either.
        (without_code_file("base.py"), [], "without the code files that `trust_remote_code=True` loads (base.py)"),
        ("saved", ["--repo-id", "vidcap/bad id"], "is not a Hub repository id"),
        ("saved", ["--repo-id", "a/b/c"], "is not a Hub repository id"),
        ("saved", ["--metrics", "scores.json"], "--metrics needs --dataset"),
        ("saved", ["--dataset", "msvd", "--metrics", "missing.json"], "Metrics file missing.json does not exist"),
    ],
)
def test_cli_refuses_bad_input_in_one_line_before_touching_the_hub(
    hub, saved_video_model, processor, tmp_path, capsys, monkeypatch, make_folder, extra_args, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.json").write_text(json.dumps(SCORES))
    folder = saved_video_model if make_folder == "saved" else tmp_path / "model"
    if callable(make_folder):
        folder.mkdir()
        make_folder(folder, processor)
    repositories = set(hub.repositories)
    argv = ["push", str(folder), "--repo-id", "vidcap/refused", *extra_args]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("hf-vidcap push: error: ") and error.count("\n") == 1, error
    assert message in error
    assert set(hub.repositories) == repositories


def test_a_training_runs_checkpoints_and_logs_stay_local(hub, saved_video_model, tmp_path):
    """`hf-vidcap train` leaves checkpoints (optimizer and random states) and tracker logs in the folder it saves to."""
    folder = tmp_path / "run"
    shutil.copytree(saved_video_model, folder)
    for name in ("checkpoint-2/optimizer.bin", "runs/events.out", "__pycache__/s2vt.cpython-311.pyc"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"local")
    push_to_hub(folder, "vidcap/run")
    uploaded = set(hub.files("vidcap/run"))
    assert {"model.safetensors", "config.json", "processor_config.json"} <= uploaded
    assert not any(name.startswith(("checkpoint-", "runs/", "__pycache__/")) for name in uploaded), uploaded


def test_a_checkpoint_folder_publishes_as_a_model_without_its_training_state(hub, saved_video_model, tmp_path):
    """A `Trainer` checkpoint holds the model and processor, plus what resumes training: that stays local."""
    checkpoint = tmp_path / "run" / "checkpoint-500"
    shutil.copytree(saved_video_model, checkpoint)
    state = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth", "rng_state_1.pth")
    for name in (*state, "trainer_state.json", "training_args.bin"):
        (checkpoint / name).write_bytes(b"local")
    push_to_hub(checkpoint, "vidcap/checkpoint")
    uploaded = set(hub.files("vidcap/checkpoint"))
    assert {"model.safetensors", "config.json", "processor_config.json", "trainer_state.json"} <= uploaded
    assert not uploaded & set(state), uploaded
    assert sorted(path.name for path in checkpoint.iterdir() if path.name in state) == sorted(state)  # nothing local


def test_seq2seq_example_pushes_with_the_hf_vidcap_card(hub, repo_root, tmp_path, monkeypatch):
    """`--push_to_hub` publishes the hf_vidcap card with the final evaluation's scores, not the generic Trainer one."""
    write_feature_dataset(tmp_path / "features", {"train": 6, "validation": 3})
    argv = ["train_seq2seq.py", "--dataset", str(tmp_path / "features"), "--model_type", "mean_pool",
            "--config_overrides", "video_embedding_size=8,word_embedding_size=8,hidden_size=8,max_caption_length=4",
            "--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--per_device_train_batch_size", "8",
            "--generation_num_beams", "1", "--report_to", "none", "--disable_tqdm", "true",
            "--push_to_hub", "--hub_model_id", "vidcap/seq2seq", "--dataset_name", "synthetic-shapes"]  # fmt: skip
    monkeypatch.setattr("sys.argv", argv)
    runpy.run_path(str(repo_root / "examples" / "train_seq2seq.py"), run_name="__main__")
    files = hub.files("vidcap/seq2seq")
    assert {"model.safetensors", "config.json", "tokenizer.json", "eval_results.json"} <= set(files)
    card = ModelCard(files["README.md"].decode())
    assert {"hf_vidcap", "vidcap_mean_pool"} <= set(card.data.tags) and card.data.datasets == ["synthetic-shapes"]
    scores = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert f"| CIDEr-D | {scores['eval_CIDEr']:.4f} |" in card.text
    assert {result.dataset_split for result in card.data.eval_results} == {"validation"}
    assert 'AutoModel.from_pretrained("vidcap/seq2seq", trust_remote_code=True)' in card.text


@pytest.mark.parametrize("offline", [True, False])
def test_cli_says_when_the_hub_cannot_be_reached(hub, saved_video_model, capsys, monkeypatch, offline):
    if offline:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    else:
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:1")
    assert main(["push", str(saved_video_model), "--repo-id", "vidcap/unreachable"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and ("offline mode is on" if offline else "cannot reach the Hub at") in error, error


def test_cli_explains_a_refused_token(hub, saved_video_model, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert main(["push", str(saved_video_model), "--repo-id", "vidcap/not-mine"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("hf-vidcap push: error: the Hub refused the push (401): ") and error.count("\n") == 1
    assert "hf auth login" in error
    assert "vidcap/not-mine" not in hub.repositories
