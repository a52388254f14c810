"""The building blocks in hf_vidcap.training, and examples/train_seq2seq.py end to end."""

import json
import logging
import runpy
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from datasets import Dataset, load_from_disk
from huggingface_hub import ModelCard
from transformers import AutoModel, AutoProcessor, EvalPrediction, ResNetModel, Seq2SeqTrainingArguments

from hf_vidcap.metrics import compute_caption_metrics
from hf_vidcap.modeling import ARCHITECTURES
from hf_vidcap.processing import VideoCaptioningFeatureExtractor
from hf_vidcap.training import (
    CaptionMetrics,
    build_model,
    build_processor,
    build_seq2seq_trainer,
    check_checkpoint_fits,
    check_dataset,
    check_features_match,
    check_output_dir,
    find_checkpoint,
    format_metric_table,
    frame_preprocessing,
    generate_captions,
    load_or_build_captioner,
    parse_config_overrides,
)

from ..helpers import TINY_RESNET
from .conftest import TINY_S2VT


def test_config_overrides_take_the_type_of_each_field():
    fields = parse_config_overrides("s2vt", "hidden_size=12, dropout=0.25,standardize_video_features=true")
    assert fields == {"hidden_size": 12, "dropout": 0.25, "standardize_video_features": True}
    assert type(fields["hidden_size"]) is int and type(fields["dropout"]) is float
    assert parse_config_overrides("s2vt", "vision_feature_pooling=grid") == {"vision_feature_pooling": "grid"}


@pytest.mark.parametrize(
    "overrides, message",
    [
        ("hidden_size", "'hidden_size' is not of the form field=value"),
        ("hidden_size=8,", "'' is not of the form field=value"),
        ("hiden_size=8", "key hiden_size isn't in the original config dict"),
        ("dropout=high", "could not convert string to float"),
        ("standardize_video_features=maybe", "can't derive true or false"),
    ],
)
def test_bad_config_overrides_name_the_pair(overrides, message):
    with pytest.raises(ValueError, match=message):
        parse_config_overrides("s2vt", overrides)


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_every_registered_architecture_builds_by_name(model_type):
    model = build_model(model_type, vocab_size=11, video_feature_size=6, config_overrides="max_caption_length=4")
    assert type(model) is ARCHITECTURES[model_type]
    assert model.config.vocab_size == 11 and model.config.video_feature_size == 6
    assert model.config.max_caption_length == 4


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown captioning architecture 'lstm'; available: .*s2vt"):
        build_model("lstm", vocab_size=11)


def test_frame_options_change_only_their_own_settings_of_the_extractions_preprocessing():
    """`--num-frames` on extracted features must not reset the frame size, rate or normalization the features were
    extracted with: the trained model would caption video files from other features than it trained on."""
    extraction = VideoCaptioningFeatureExtractor(num_frames=6, size=32, fps=4.0, image_mean=[0.5] * 3)
    features_info = SimpleNamespace(feature_extractor=extraction)  # the part of a VideoFeaturesInfo read here
    merged = frame_preprocessing(num_frames=8, features_info=features_info)
    assert merged.num_frames == 8 and merged.size == {"height": 32, "width": 32}
    assert merged.fps == 4.0 and merged.image_mean == [0.5] * 3
    assert frame_preprocessing(frame_size=48, features_info=features_info).num_frames == 6
    assert frame_preprocessing(features_info=features_info) is None  # the extraction's, unchanged
    assert frame_preprocessing(num_frames=8).size == VideoCaptioningFeatureExtractor().size  # no extraction: defaults


def test_fine_tuning_adds_the_words_the_saved_vocabulary_lacks(tmp_path, caplog):
    """Read as <unk>, they taught the model to say <unk>, which decodes to an empty caption."""
    old = Dataset.from_dict({"video_id": ["a"], "captions": [["a red ball rolls"]], "video_features": [[[0.0] * 4]]})
    processor = build_processor(old)
    model = build_model("mean_pool", len(processor.tokenizer), 4, config_overrides={"hidden_size": 8})
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    new = old.remove_columns("captions").add_column("captions", [["a purple cube rolls", "a cube ball"]])

    with caplog.at_level(logging.WARNING):
        tuned, tuned_processor = load_or_build_captioner(new, model_name_or_path=tmp_path)
    assert f"Added 2 words of the training captions to the vocabulary of {tmp_path} (now 10 tokens; most frequent: " \
           "cube, purple)" in caplog.text  # fmt: skip
    tokenizer = tuned_processor.tokenizer
    assert len(tokenizer) == tuned.config.vocab_size == 10 and tuned.get_output_embeddings().out_features == 10
    assert tokenizer.get_vocab() == {**processor.tokenizer.get_vocab(), "cube": 8, "purple": 9}  # the old ids kept
    assert tuned_processor.batch_decode([[1, 4, 9, 8, 2]], skip_special_tokens=True) == ["a purple cube"]
    tuned_processor.save_pretrained(tmp_path / "tuned")
    assert AutoProcessor.from_pretrained(tmp_path / "tuned").tokenizer.get_vocab() == tokenizer.get_vocab()
    old_rows = model.get_input_embeddings().weight
    assert torch.equal(tuned.get_input_embeddings().weight[: len(old_rows)], old_rows)  # what it learned stays
    assert load_or_build_captioner(new, model_name_or_path=tmp_path, min_word_count=2)[0].config.vocab_size == 9

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        kept, kept_processor = load_or_build_captioner(new, model_name_or_path=tmp_path, extend_vocabulary=False)
    assert kept.config.vocab_size == len(kept_processor.tokenizer) == 8
    assert f"2 words of the training captions are not in the vocabulary of {tmp_path} and are read as <unk> " \
           "(most frequent: cube, purple)" in caplog.text  # fmt: skip


def test_frame_settings_are_compared_up_to_float_rounding_and_for_any_dtype(tmp_path):
    torch.manual_seed(0)
    ResNetModel(TINY_RESNET).save_pretrained(tmp_path / "cnn")
    model = build_model("s2vt", 11, vision_model=tmp_path / "cnn", config_overrides=TINY_S2VT)
    processor = VideoCaptioningFeatureExtractor(size=32)
    rounded = VideoCaptioningFeatureExtractor(size=32, rescale_factor=0.0039215686, image_mean=[0.485, 0.456, 0.406])
    info = SimpleNamespace(
        feature_extractor=rounded,
        vision_feature_pooling=model.config.vision_feature_pooling,
        vision_feature_grid_size=model.config.vision_feature_grid_size,
        backbone_weights_sha256=None,
    )
    check_features_match(model, processor, info, "feats")  # the same rescaling, written rounded
    info.feature_extractor = VideoCaptioningFeatureExtractor(size=48)
    for dtype in (torch.float32, torch.bfloat16):
        with pytest.raises(ValueError, match=r"feats were extracted from frames made with size \{'height': 48"):
            check_features_match(model.to(dtype), processor, info, "feats")


def test_processor_vocabulary_comes_from_every_training_caption():
    train = Dataset.from_dict({"video_id": ["a", "b"], "captions": [["a red ball"], ["a blue cube", "A red cube!"]]})
    vocabulary = set(build_processor(train).tokenizer.get_vocab())
    assert {"a", "red", "ball", "blue", "cube"} <= vocabulary and "A" not in vocabulary
    with pytest.raises(ValueError, match="The training split has no `captions` column"):
        build_processor(train.remove_columns("captions"))


def test_check_dataset_says_what_is_missing(feature_dataset_dir):
    model = build_model("s2vt", vocab_size=11, video_feature_size=8, config_overrides=TINY_S2VT)
    split = load_from_disk(feature_dataset_dir)["test"]
    check_dataset(split, model, "test")
    with pytest.raises(ValueError, match="The test split is empty"):
        check_dataset(split.select([]), model, "test")
    with pytest.raises(ValueError, match="The test split has neither video_features nor video_path"):
        check_dataset(split.remove_columns("video_features"), model, "test")
    videos = split.remove_columns("video_features").add_column("video_path", ["a.mp4"] * len(split))
    with pytest.raises(ValueError, match="has videos .* and the model has no vision backbone"):
        check_dataset(videos, model, "test")
    check_dataset(split.remove_columns("captions"), model, "test", needs_captions=False)


def g2l_split(num_clips: int, clip_size: int = 5, num_regions: int = 4, region_size: int = 3) -> Dataset:
    """Clips of 4 frames with every stream of G2L, at sizes of a user's own backbones (none of them the defaults)."""
    rng = np.random.default_rng(0)
    return Dataset.from_dict(
        {
            "video_id": [str(index) for index in range(num_clips)],
            "captions": [["a dog runs"], ["a cat sleeps"]] * (num_clips // 2),
            "video_features": rng.normal(size=(num_clips, 4, 8)).astype("float32"),
            "clip_features": rng.normal(size=(num_clips, 4, clip_size)).astype("float32"),
            "region_features": rng.normal(size=(num_clips, 2, num_regions, region_size)).astype("float32"),
        }
    )


def test_a_new_model_takes_every_stream_size_from_the_data(tmp_path):
    train = g2l_split(4)
    model, processor = load_or_build_captioner(
        train,
        model_type="g2l",
        config_overrides="hidden_size=8,word_embedding_size=8,projection_size=8,aligned_embedding_size=8,"
        "attention_size=8,region_frame_stride=2,standardize_video_features=true",
    )
    config = model.config
    assert (config.video_feature_size, config.clip_feature_size) == (8, 5)
    assert (config.num_regions, config.region_feature_size) == (4, 3)
    check_dataset(train, model, "train")
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, max_steps=1)
    build_seq2seq_trainer(model, processor, args, train).train()

    with pytest.raises(ValueError, match=r"The test split's clip_features have 6 values per frame but the model "
                       r"expects 5 \(config.clip_feature_size\)"):  # fmt: skip
        check_dataset(g2l_split(2, clip_size=6), model, "test")
    with pytest.raises(ValueError, match=r"region_features have 9 regions per step of 2 frames but the model expects "
                       r"4 \(config.num_regions\)"):  # fmt: skip
        check_dataset(g2l_split(2, num_regions=9), model, "test")
    with pytest.raises(ValueError, match=r"region_features have 4 values per step of 2 frames .* expects 3 \(config"):
        check_dataset(g2l_split(2, region_size=4), model, "test")
    flat_regions = g2l_split(2).remove_columns("region_features").add_column("region_features", [[[1.0] * 3] * 2] * 2)
    with pytest.raises(ValueError, match=r"region_features have shape \(3,\) but the model expects \(4, 3\) per step"):
        check_dataset(flat_regions, model, "test")


def test_an_evaluation_clip_without_references_is_named(feature_dataset_dir, tmp_path):
    model = build_model("s2vt", vocab_size=11, video_feature_size=8, config_overrides=TINY_S2VT)
    splits = load_from_disk(feature_dataset_dir)
    train = splits["train"]
    processor = build_processor(train)
    captions = [[] if index == 1 else clip for index, clip in enumerate(splits["test"]["captions"])]
    test = splits["test"].remove_columns("captions").add_column("captions", captions)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True)
    with pytest.raises(ValueError, match=r"The test split has clips without reference captions \(rows \[1\]\)"):
        build_seq2seq_trainer(model, processor, args, train, test, eval_split="test")


def test_options_the_captioners_cannot_use_are_refused_when_the_trainer_is_built(feature_dataset_dir, tmp_path):
    """The Trainer would take the labels away from the model, which builds its decoder inputs from them."""
    train = load_from_disk(feature_dataset_dir)["train"]
    processor = build_processor(train)
    model = build_model("s2vt", vocab_size=len(processor.tokenizer), video_feature_size=8, config_overrides=TINY_S2VT)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", label_smoothing_factor=0.1)
    with pytest.raises(ValueError, match="label_smoothing_factor=0.1 is not supported"):
        build_seq2seq_trainer(model, processor, args, train)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", batch_eval_metrics=True)
    with pytest.raises(ValueError, match="batch_eval_metrics=True is not supported: CIDEr-D weighs words"):
        build_seq2seq_trainer(model, processor, args, train)


def test_feature_columns_the_model_does_not_read_are_left_out(feature_dataset_dir, tmp_path):
    """A feature set made for G2L also holds `clip_features`: S2VT trains on it and, after training, evaluates with
    generate(), which refuses inputs the model does not read."""
    splits = load_from_disk(feature_dataset_dir)
    train, test = (
        split.add_column("clip_features", [[[1.0] * 3] * 2] * len(split))
        for split in (splits["train"], splits["test"])
    )
    processor = build_processor(train)
    model = build_model("s2vt", vocab_size=len(processor.tokenizer), video_feature_size=8, config_overrides=TINY_S2VT)
    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path), report_to="none", use_cpu=True, max_steps=1, predict_with_generate=True
    )
    trainer = build_seq2seq_trainer(model, processor, args, train, test, eval_split="test")
    trainer.train()
    assert "eval_CIDEr" in trainer.evaluate(num_beams=1)


def test_evaluate_and_predict_score_the_dataset_they_are_given(feature_dataset_dir, tmp_path):
    """Against that dataset's own references: `evaluate(other)` used to score its captions against the references of
    the trainer's evaluation split, row by row, with no error when the other split was at least as long."""
    splits = load_from_disk(feature_dataset_dir)
    processor = build_processor(splits["train"])
    model = build_model("s2vt", vocab_size=len(processor.tokenizer), video_feature_size=8, config_overrides=TINY_S2VT)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True, max_steps=3)
    trainer = build_seq2seq_trainer(model, processor, args, splits["train"], splits["test"], eval_split="test")
    trainer.train()
    model.eval()

    def expected(split: str) -> dict[str, float]:
        captions = generate_captions(model, processor, splits[split], num_beams=1)
        references = list(splits[split]["captions"])
        scores = compute_caption_metrics(captions, references, meteor=False)
        return {name: score for name, score in scores.items() if score is not None}

    validation = trainer.evaluate(splits["validation"], num_beams=1)  # 5 clips; the trainer's own split has 3
    assert {name: validation[f"eval_{name}"] for name in expected("validation")} == pytest.approx(
        expected("validation")
    )
    prediction = trainer.predict(splits["train"], num_beams=1)
    assert {name: prediction.metrics[f"test_{name}"] for name in expected("train")} == pytest.approx(expected("train"))
    assert len(prediction.predictions) == 12
    own = trainer.evaluate(num_beams=1)  # the trainer's own split, still scored against its references
    assert {name: own[f"eval_{name}"] for name in expected("test")} == pytest.approx(expected("test"))


def test_the_trainer_writes_the_hf_vidcap_model_card(feature_dataset_dir, tmp_path, caplog):
    splits = load_from_disk(feature_dataset_dir)
    processor = build_processor(splits["train"])
    model = build_model("s2vt", vocab_size=len(processor.tokenizer), video_feature_size=8, config_overrides=TINY_S2VT)
    args = Seq2SeqTrainingArguments(output_dir=str(tmp_path / "run"), report_to="none", use_cpu=True, max_steps=1)
    trainer = build_seq2seq_trainer(model, processor, args, splits["train"], splits["validation"])
    trainer.train()
    scores = trainer.evaluate(num_beams=1)
    trainer.create_model_card(model_name="s2vt-tiny", dataset=["synthetic"], license="mit")
    card = ModelCard.load(tmp_path / "run" / "README.md")
    assert {"hf_vidcap", "vidcap_s2vt"} <= set(card.data.tags) and card.data.license == "mit"
    results = {(result.metric_name, result.dataset_split) for result in card.data.eval_results}
    assert ("CIDEr-D", "validation") in results
    assert f"| CIDEr-D | {scores['eval_CIDEr']:.4f} |" in card.text
    assert 'AutoModel.from_pretrained("s2vt-tiny", trust_remote_code=True)' in card.text

    with caplog.at_level("WARNING", logger="hf_vidcap.training"):
        trainer.create_model_card(model_name="s2vt-tiny")  # scores need the dataset they are on
    assert "leaves out the evaluation scores" in caplog.text
    assert ModelCard.load(tmp_path / "run" / "README.md").data.eval_results is None
    (tmp_path / "run" / "README.md").write_text("# My own notes\n")
    trainer.create_model_card(dataset="synthetic")
    assert (tmp_path / "run" / "README.md").read_text() == "# My own notes\n"


def test_caption_metrics_drop_the_padding_rows_of_the_last_step():
    processor = build_processor(Dataset.from_dict({"captions": [["a red ball"], ["a blue cube"]]}))
    ids = processor.tokenizer(["a red ball", "a blue cube", "a red ball"])["input_ids"]  # <bos> words <eos>
    predictions = np.full((3, 8), -100)
    for row, sequence in enumerate(ids):
        predictions[row, : len(sequence)] = sequence
    metrics = CaptionMetrics(processor, [["a red ball"], ["a blue cube"]])
    scores = metrics(EvalPrediction(predictions=predictions, label_ids=predictions))
    assert scores["Bleu_1"] == pytest.approx(1.0) and "METEOR" not in scores
    with pytest.raises(ValueError, match="Got 2 predictions for 3 evaluation clips"):
        CaptionMetrics(processor, [["a"], ["b"], ["c"]])(EvalPrediction(predictions[:2], predictions[:2]))
    # `eval_do_concat_batches=False`: one array per step, each as long as its own longest caption.
    steps = [predictions[:2, :5], predictions[2:, :4]]
    assert metrics(EvalPrediction(predictions=steps, label_ids=steps)) == scores
    logits = np.zeros((3, 8, len(processor.tokenizer)), dtype=np.float32)  # predict_with_generate=False
    with pytest.raises(ValueError, match=r"got float32 predictions of shape \(3, 8, \d+\) \(logits\?\): set "
                       "predict_with_generate=True"):  # fmt: skip
        CaptionMetrics(processor, [["a"], ["b"], ["c"]])(EvalPrediction((logits,), predictions))


def test_metric_table_marks_missing_metrics():
    table = format_metric_table({"model": {"Bleu_4": 0.5, "METEOR": None}}, metrics=["Bleu_4", "METEOR"], indent=2)
    assert table.splitlines() == [" " * 18 + "    Bleu_4    METEOR", "  model                0.500       n/a"]


def test_output_folder_is_new_empty_or_resumed(tmp_path):
    check_output_dir(tmp_path / "new")
    assert not (tmp_path / "new").exists()  # created by the run's first save, not before the run is known to start
    (tmp_path / "new" / "checkpoint-1").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="is not empty"):
        check_output_dir(tmp_path / "new")
    check_output_dir(tmp_path / "new", checkpoint=tmp_path / "new" / "checkpoint-1")
    (tmp_path / "elsewhere" / "checkpoint-2").mkdir(parents=True)
    with pytest.raises(
        FileExistsError, match=r"is not empty \(the checkpoint .*elsewhere.checkpoint-2 is not in it\)"
    ):
        check_output_dir(tmp_path / "new", checkpoint=str(tmp_path / "elsewhere" / "checkpoint-2"))
    check_output_dir(tmp_path / "fresh", checkpoint=str(tmp_path / "elsewhere" / "checkpoint-2"))
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=r"notes.txt is a file; pass a folder"):
        check_output_dir(tmp_path / "notes.txt")


def test_the_checkpoint_to_resume_from_is_found_before_the_run_starts(tmp_path):
    assert find_checkpoint(tmp_path / "run", None) is None and find_checkpoint(tmp_path / "run", False) is None
    with pytest.raises(ValueError, match=r"latest checkpoint: .*run holds no complete checkpoint-N folder\.$"):
        find_checkpoint(tmp_path / "run", "latest")  # the folder does not exist yet
    for step in (2, 10):
        (tmp_path / "run" / f"checkpoint-{step}").mkdir(parents=True)
        (tmp_path / "run" / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    for latest in (True, "latest", "true", "True"):  # a command line gives the flag as text
        assert find_checkpoint(tmp_path / "run", latest) == tmp_path / "run" / "checkpoint-10"
    assert (
        find_checkpoint(tmp_path / "run", str(tmp_path / "run" / "checkpoint-2")) == tmp_path / "run" / "checkpoint-2"
    )
    with pytest.raises(ValueError, match=r"Cannot resume from .*checkpoint-3: there is no such checkpoint folder"):
        find_checkpoint(tmp_path / "run", tmp_path / "run" / "checkpoint-3")


def test_an_incomplete_checkpoint_is_passed_over_or_refused(tmp_path, caplog):
    """A run stopped while saving leaves a checkpoint without the file its saver writes last."""
    run = tmp_path / "run"
    for step in (2, 9, 10, 11):
        (run / f"checkpoint-{step}").mkdir(parents=True)
    (run / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (run / "checkpoint-9" / "trainer_state.json").write_text("{}")
    (run / "checkpoint-10" / "model.safetensors").write_text("half")
    with caplog.at_level("WARNING", logger="hf_vidcap.training"):
        assert find_checkpoint(run, "latest") == run / "checkpoint-9"  # by step, not by name: 9 comes after 11
    assert "checkpoint-11, checkpoint-10 lack trainer_state.json" in caplog.text
    with pytest.raises(ValueError, match=r"checkpoint-10: it has no trainer_state.json, so it is not a complete"):
        find_checkpoint(run, run / "checkpoint-10")
    with pytest.raises(
        ValueError,
        match=r"no complete checkpoint-N folder \(incomplete, without custom_checkpoint_0.pkl: "
        r"checkpoint-11, checkpoint-10, checkpoint-9, checkpoint-2\)",
    ):
        find_checkpoint(run, "latest", last_file="custom_checkpoint_0.pkl")  # Accelerate's save_state ends with it


def test_a_checkpoint_of_other_sizes_is_refused(tmp_path):
    model = build_model("mean_pool", 10, 6, config_overrides={"hidden_size": 8, "word_embedding_size": 8})
    model.save_pretrained(tmp_path / "checkpoint-1")
    check_checkpoint_fits(model, tmp_path / "checkpoint-1")
    check_checkpoint_fits(model, tmp_path / "no-weights")  # left to the loader's own error
    other = build_model("mean_pool", 10, 6, config_overrides={"hidden_size": 12, "word_embedding_size": 8})
    with pytest.raises(ValueError, match=r"checkpoint-1: it holds a model of other sizes, vocabulary or architecture"):
        check_checkpoint_fits(other, tmp_path / "checkpoint-1")
    # Another architecture whose few shared weight names have the same shapes: its optimizer state would be loaded
    # into this model's (and corrupt memory in the fused optimizer).
    s2vt = build_model("s2vt", 10, 6, config_overrides={"hidden_size": 8, "word_embedding_size": 8})
    with pytest.raises(ValueError, match=r"other sizes, vocabulary or architecture"):
        check_checkpoint_fits(s2vt, tmp_path / "checkpoint-1")


def test_seq2seq_example_resumes_the_latest_checkpoint(repo_root, feature_dataset_dir, tmp_path, monkeypatch):
    def run(max_steps: int, *resume: str) -> None:
        argv = ["train_seq2seq.py", "--dataset", str(feature_dataset_dir), "--model_type", "mean_pool",
                "--config_overrides", "video_embedding_size=8,word_embedding_size=8,hidden_size=8",
                "--output_dir", str(tmp_path), "--max_steps", str(max_steps), "--save_steps", "1",
                "--per_device_train_batch_size", "8", "--eval_split", "", "--report_to", "none",
                "--disable_tqdm", "true", *resume]  # fmt: skip
        monkeypatch.setattr("sys.argv", argv)
        runpy.run_path(str(repo_root / "examples" / "train_seq2seq.py"), run_name="__main__")

    run(2)
    first_checkpoint = (tmp_path / "checkpoint-1" / "model.safetensors").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="is not empty"):
        run(3)
    run(3, "--resume_from_checkpoint", "latest")
    assert (tmp_path / "checkpoint-3").is_dir()
    assert (tmp_path / "checkpoint-1" / "model.safetensors").stat().st_mtime_ns == first_checkpoint  # not retrained
    state = json.loads((tmp_path / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3


def test_seq2seq_example_trains_and_saves_a_loadable_model(repo_root, feature_dataset_dir, tmp_path, monkeypatch):
    argv = [
        "train_seq2seq.py",
        "--dataset",
        str(feature_dataset_dir),
        "--model_type",
        "mean_pool",
        "--config_overrides",
        "video_embedding_size=8,word_embedding_size=8,hidden_size=8,max_caption_length=4",
        "--output_dir",
        str(tmp_path),
        "--max_steps",
        "2",
        "--per_device_train_batch_size",
        "8",
        "--generation_num_beams",
        "1",
        "--report_to",
        "none",
        "--disable_tqdm",
        "true",
        "--eval_strategy",
        "steps",
        "--eval_steps",
        "1",
    ]  # fmt: skip  (as the docstring's, which sets do_eval)
    monkeypatch.setattr("sys.argv", argv)
    runpy.run_path(str(repo_root / "examples" / "train_seq2seq.py"), run_name="__main__")
    assert AutoModel.from_pretrained(tmp_path).config.model_type == "vidcap_mean_pool"
    assert (tmp_path / "eval_results.json").is_file() and (tmp_path / "tokenizer.json").is_file()


def test_seq2seq_example_scores_a_saved_model_on_the_test_split(repo_root, feature_dataset_dir, tmp_path, monkeypatch):
    def run(output_dir, *options: str) -> None:
        argv = ["train_seq2seq.py", "--dataset", str(feature_dataset_dir), "--output_dir", str(output_dir),
                "--per_device_train_batch_size", "8", "--generation_num_beams", "1", "--report_to", "none",
                "--disable_tqdm", "true", *options]  # fmt: skip
        monkeypatch.setattr("sys.argv", argv)
        runpy.run_path(str(repo_root / "examples" / "train_seq2seq.py"), run_name="__main__")

    run(tmp_path / "run", "--model_type", "mean_pool", "--max_steps", "2", "--eval_split", "",
        "--config_overrides", "video_embedding_size=8,word_embedding_size=8,hidden_size=8,max_caption_length=4")  # fmt: skip
    run(tmp_path / "test", "--model_name_or_path", str(tmp_path / "run"), "--do_predict")
    results = json.loads((tmp_path / "test" / "predict_results.json").read_text())
    assert results["split"] == "test" and 0 <= results["predict_CIDEr"]
    captions = (tmp_path / "test" / "generated_predictions.txt").read_text().splitlines()
    assert len(captions) == 3  # one per test clip
    assert not (tmp_path / "test" / "model.safetensors").exists()  # nothing trained, so nothing saved
    assert not (tmp_path / "test" / "eval_results.json").exists()  # --do_eval was not asked for
    with pytest.raises(ValueError, match="without --do_train needs a trained model: --model_name_or_path"):
        run(tmp_path / "new", "--model_type", "mean_pool", "--do_eval")
