"""Training and evaluation building blocks shared by `hf-vidcap train`, `hf-vidcap evaluate`, the examples and the demo.

A captioning dataset is a `datasets.Dataset` with a `video_id`, reference `captions` (a list per clip) and either
precomputed `video_features` (`Array2D(shape=(None, D))`, as `hf-vidcap extract-features` writes them) or a
`video_path` (read through the processor, for a model with a vision backbone). [`select_split`],
[`select_eval_split`] and [`check_output_dir`] come first (a split by name, the split to evaluate on, an output folder
that never overwrites a user's files), with [`find_checkpoint`] and [`check_checkpoint_fits`] for a run that resumes;
then the pieces, in order:

1. [`build_processor`] makes a processor whose word vocabulary comes from the training captions; [`build_model`] makes
   any registered architecture from its name, sizes to fit the vocabulary and the features, and user overrides;
   [`load_or_build_captioner`] picks between fine-tuning a saved folder and building a new model.
2. [`check_dataset`] says in one line what is wrong when a split cannot train or evaluate the model, video files that
   cannot be read included, before the first step rather than at the batch that holds one.
3. [`build_seq2seq_trainer`] wires a [`VideoCaptioningTrainer`], a `Seq2SeqTrainer` (one row per caption for
   training, the collator, generation and [`CaptionMetrics`] for evaluation, the hf_vidcap model card).
4. [`generate_captions`] captions every row of a dataset; [`format_metric_table`] and [`write_coco_predictions`]
   report the result.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, DatasetDict
from huggingface_hub import ModelCard
from safetensors import safe_open
from transformers import (
    AutoConfig,
    AutoModel,
    AutoProcessor,
    EvalPrediction,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)
from transformers.trainer import TRAINER_STATE_NAME
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, PredictionOutput
from transformers.utils import SAFE_WEIGHTS_NAME, logging

from .data.collator import VideoCaptioningCollator, explode_captions
from .data.features import SETTINGS_FILE, VideoFeaturesInfo, video_feature_statistics, weights_sha256
from .hub import create_model_card
from .metrics import METRIC_NAMES, compute_caption_metrics
from .modeling import VideoCaptioningPreTrainedModel, VideoStream, get_architecture
from .processing import (
    InvalidVideoError,
    VideoCaptioningFeatureExtractor,
    VideoCaptioningProcessor,
    check_video,
    extend_word_tokenizer,
)


logger = logging.get_logger(__name__)


def select_split(dataset: DatasetDict, split: str) -> Dataset:
    """The split named `split`, with an error listing the splits there are otherwise."""
    if split not in dataset:
        raise ValueError(f"The dataset has no split {split!r}; its splits are: {', '.join(dataset)}.")
    return dataset[split]


def select_eval_split(dataset: DatasetDict, split: str | None) -> tuple[str, Dataset | None]:
    """The split a training run evaluates on, and its name: `split`, or by default `"validation"` when the dataset
    has clips there; `"none"` (or, by default, no validation clips) for no evaluation, `("none", None)`."""
    split = split or ("validation" if len(dataset.get("validation", ())) else "none")
    return split, None if split == "none" else select_split(dataset, split)


def check_output_dir(output_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None) -> None:
    """Refuse a training run's output folder when it is not empty, unless the run resumes from a checkpoint there, so
    that no file of the user's (or of an earlier run) is overwritten. Call it before any work: it creates nothing, so a
    run refused later (for a bad option or dataset) leaves no empty folder behind.

    Args:
        output_dir (`str` or `os.PathLike`): the run's output folder.
        checkpoint (`str` or `os.PathLike`, *optional*): the checkpoint folder the run resumes from (see
            [`find_checkpoint`]). A checkpoint elsewhere does not make a non-empty `output_dir` the run's own.

    Raises:
        `FileExistsError`: for a file, or a non-empty folder and a run that does not resume from a checkpoint inside it.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise FileExistsError(f"The output folder {output_dir} is a file; pass a folder.")
    resumes_here = checkpoint is not None and Path(checkpoint).resolve().is_relative_to(output_dir.resolve())
    if not resumes_here and output_dir.is_dir() and any(output_dir.iterdir()):
        elsewhere = f" (the checkpoint {checkpoint} is not in it)" if checkpoint is not None else ""
        raise FileExistsError(
            f"The output folder {output_dir} is not empty{elsewhere}; pass a new folder, or resume the run it holds "
            "with --resume-from-checkpoint."
        )


def find_checkpoint(
    output_dir: str | os.PathLike,
    resume_from_checkpoint: str | os.PathLike | bool | None,
    last_file: str = TRAINER_STATE_NAME,
) -> Path | None:
    """The checkpoint folder a run resumes from, found before any work starts.

    A checkpoint is complete once the file its saver writes last is there (`Trainer` writes `trainer_state.json` last,
    `Accelerator.save_state` its registered objects). A folder without it is what a run stopped while saving leaves:
    `"latest"` passes over it, with a warning, to the newest complete one, and a path to it is refused.

    Args:
        output_dir (`str` or `os.PathLike`): the run's output folder, where the run saves its `checkpoint-N` folders.
        resume_from_checkpoint (`str`, `os.PathLike` or `bool`, *optional*): `None` or `False` for a new run; `True`,
            `"latest"` or `"true"` (as a command line gives it) for the newest complete `checkpoint-N` folder in
            `output_dir`; otherwise the checkpoint folder's path.
        last_file (`str`, *optional*, defaults to `"trainer_state.json"`): the file the checkpoint's saver writes last.

    Returns:
        `Path` or `None`: the checkpoint folder, or `None` for a new run.

    Raises:
        `ValueError`: if `output_dir` holds no complete `checkpoint-N` folder, or the path is not a complete checkpoint.
    """
    if resume_from_checkpoint in (None, False, ""):
        return None
    if resume_from_checkpoint is True or str(resume_from_checkpoint).lower() in ("latest", "true"):
        checkpoints = _checkpoints_newest_first(output_dir)
        complete = [folder for folder in checkpoints if (folder / last_file).is_file()]
        if not complete:
            incomplete = f" (incomplete, without {last_file}: {_names(checkpoints)})" if checkpoints else ""
            raise ValueError(
                f"Cannot resume from the latest checkpoint: {output_dir} holds no complete checkpoint-N folder"
                f"{incomplete}."
            )
        if complete[0] != checkpoints[0]:
            skipped = checkpoints[: checkpoints.index(complete[0])]
            logger.warning(
                f"Resuming from {complete[0]}, the newest complete checkpoint: {_names(skipped)} lack {last_file} (a "
                "run stopped while saving them) and are saved again as training passes them."
            )
        return complete[0]
    checkpoint = Path(resume_from_checkpoint)
    if not checkpoint.is_dir():
        raise ValueError(f"Cannot resume from {checkpoint}: there is no such checkpoint folder.")
    if not (checkpoint / last_file).is_file():
        raise ValueError(
            f"Cannot resume from {checkpoint}: it has no {last_file}, so it is not a complete checkpoint (a run stopped "
            "while saving it, or another program saved it); pass a complete one, or 'latest'."
        )
    return checkpoint


def _checkpoints_newest_first(output_dir: str | os.PathLike) -> list[Path]:
    """The `checkpoint-N` folders in `output_dir`, highest step first (none when `output_dir` does not exist)."""
    if not Path(output_dir).is_dir():
        return []
    prefix = f"{PREFIX_CHECKPOINT_DIR}-"
    folders = [
        folder
        for folder in Path(output_dir).iterdir()
        if folder.is_dir() and folder.name.startswith(prefix) and folder.name[len(prefix) :].isdigit()
    ]
    return sorted(folders, key=lambda folder: int(folder.name[len(prefix) :]), reverse=True)


def _names(folders: Sequence[Path]) -> str:
    return ", ".join(folder.name for folder in folders)


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: str | os.PathLike) -> None:
    """Refuse, before training starts, a checkpoint whose weights have other shapes than `model` (a model of other
    sizes or vocabulary, built from other options or data than the run that saved the checkpoint).

    Args:
        model (`torch.nn.Module`): the model the run is about to train.
        checkpoint (`str` or `os.PathLike`): a checkpoint folder saved by `Trainer` or `Accelerator.save_state`, which
            both write the model's weights to `model.safetensors`. A folder without that file is left to the loader.

    Raises:
        `ValueError`: if the checkpoint's weights are not the model's: other names, or other shapes.
    """
    weights_file = Path(checkpoint, SAFE_WEIGHTS_NAME)
    if not weights_file.is_file():
        return
    with safe_open(weights_file, framework="pt") as weights:
        shapes = {name: list(weights.get_slice(name).get_shape()) for name in weights.keys()}
    expected = {name: list(tensor.shape) for name, tensor in model.state_dict().items()}
    if shapes != expected:  # other names too: another architecture's optimizer state would be loaded into this one
        raise ValueError(
            f"Cannot resume from {checkpoint}: it holds a model of other sizes, vocabulary or architecture than the "
            "one these options build; resume with the dataset and options of the run that saved it."
        )


def training_captions(dataset: Dataset, split: str = "training") -> list[str]:
    """Every reference caption of `dataset`, flattened.

    Args:
        dataset (`datasets.Dataset`): rows with a `captions` column (a list of captions per clip).
        split (`str`, *optional*, defaults to `"training"`): the split's name or role, for the error message.

    Raises:
        `ValueError`: if the dataset has no `captions` column or no caption at all.
    """
    if "captions" not in dataset.column_names:
        raise ValueError(
            f"The {split} split has no `captions` column (columns: {', '.join(dataset.column_names)}): "
            "training and scoring need reference captions."
        )
    captions = [caption for clip_captions in dataset["captions"] for caption in clip_captions]
    if not captions:
        raise ValueError(f"The {split} split holds no caption ({len(dataset)} clips, every `captions` list empty).")
    return captions


def build_processor(
    train_dataset: Dataset,
    feature_extractor: VideoCaptioningFeatureExtractor | None = None,
    min_count: int = 1,
    max_vocab_size: int | None = None,
) -> VideoCaptioningProcessor:
    """A processor whose word-level vocabulary is built from the training captions.

    Args:
        train_dataset (`datasets.Dataset`): the training split, with a `captions` column.
        feature_extractor ([`VideoCaptioningFeatureExtractor`], *optional*): the frame preprocessor; a default one
            (16 frames of 112x112) if not given.
        min_count (`int`, *optional*, defaults to 1): words seen fewer times map to `<unk>`.
        max_vocab_size (`int`, *optional*): largest vocabulary size, special tokens included.
    """
    return VideoCaptioningProcessor.from_captions(
        training_captions(train_dataset),
        feature_extractor=feature_extractor,
        min_count=min_count,
        max_vocab_size=max_vocab_size,
    )


def parse_config_overrides(model_type: str, overrides: str) -> dict[str, Any]:
    """Typed config fields from a string like `"hidden_size=512,dropout=0.2,standardize_video_features=true"`.

    The format is the one of transformers' `PreTrainedConfig.update_from_string` (and of the `--config_overrides`
    flag of transformers' examples): each value takes the type of the field's default.

    Args:
        model_type (`str`): the registered architecture whose config the fields belong to.
        overrides (`str`): comma-separated `field=value` pairs.

    Raises:
        `ValueError`: naming the pair that is malformed, names no field of the config, or has a value of the wrong type.
    """
    defaults = get_architecture(model_type).config_class()
    fields = {}
    for pair in overrides.split(","):
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"Config override {pair!r} is not of the form field=value (in {overrides!r}).")
        try:
            defaults.update_from_string(f"{name.strip()}={value.strip()}")
        except (ValueError, TypeError) as error:
            raise ValueError(f"Config override {pair!r} for {model_type}: {error}.") from None
        fields[name.strip()] = getattr(defaults, name.strip())
    return fields


def build_model(
    model_type: str,
    vocab_size: int,
    video_feature_size: int | None = None,
    vision_model: str | os.PathLike | None = None,
    config_overrides: str | Mapping[str, Any] | None = None,
    **config_kwargs: Any,
) -> VideoCaptioningPreTrainedModel:
    """A new, randomly initialised captioner of a registered architecture.

    Args:
        model_type (`str`): a registered architecture (`"s2vt"`, `"mean_pool"`, ...).
        vocab_size (`int`): the tokenizer's vocabulary size (`len(processor.tokenizer)`).
        video_feature_size (`int`, *optional*): size of one frame's features, for a model trained on precomputed
            features. Derived from the backbone when there is one.
        vision_model (`str` or `os.PathLike`, *optional*): a folder (or Hub id) of a transformers vision model that
            becomes the captioner's frame encoder (see [`~VideoCaptioningPreTrainedModel.from_vision_pretrained`]), so
            that the model reads videos.
        config_overrides (`str` or `Mapping`, *optional*): config fields, as `"field=value,..."` or a mapping; they
            win over `config_kwargs`.
        config_kwargs: other config fields (sizes, `vision_config`, ...).

    Raises:
        `ValueError`: for an unknown architecture or a malformed override.
    """
    model_class = get_architecture(model_type)
    if isinstance(config_overrides, str):
        config_overrides = parse_config_overrides(model_type, config_overrides)
    fields = {"vocab_size": vocab_size, **config_kwargs, **(config_overrides or {})}
    if video_feature_size is not None:
        fields.setdefault("video_feature_size", video_feature_size)
    if vision_model is not None:
        return model_class.from_vision_pretrained(str(vision_model), **fields)
    return model_class(model_class.config_class(**fields))


def load_captioner(
    model_dir: str | os.PathLike,
) -> tuple[VideoCaptioningPreTrainedModel, VideoCaptioningProcessor]:
    """The model and processor saved in `model_dir` (by `save_pretrained`, `hf-vidcap train` or the demo).

    Raises:
        `ValueError`: if the folder holds no model or no processor.
    """
    model_dir = Path(model_dir)
    for name, what in (("config.json", "model"), ("processor_config.json", "processor")):
        if not (model_dir / name).is_file():
            raise ValueError(f"{model_dir} holds no {name}: pass a folder with a saved {what} (save_pretrained).")
    return AutoModel.from_pretrained(model_dir), AutoProcessor.from_pretrained(model_dir)


def features_info_of(dataset_path: str | os.PathLike) -> VideoFeaturesInfo | None:
    """How the features in `dataset_path` were extracted, if `hf-vidcap extract-features` wrote them (else `None`)."""
    return VideoFeaturesInfo.load(dataset_path) if (Path(dataset_path) / SETTINGS_FILE).is_file() else None


def check_features_match(
    model: VideoCaptioningPreTrainedModel,
    feature_extractor: VideoCaptioningFeatureExtractor,
    features_info: VideoFeaturesInfo | None,
    dataset: str | os.PathLike,
) -> None:
    """Refuse features extracted by another backbone, pooled otherwise, or from frames made otherwise (another size,
    resampling, rescaling or normalization) than the model and its processor compute them from video files: trained or
    scored on them, it would caption videos from features it never saw (two ResNets of equal width give features of
    equal size, so the sizes alone do not tell). Features of frames sampled otherwise (another `num_frames` or `fps`)
    are each like the model's, so they only get a warning. Not checked: a model without a vision backbone, and the
    weight digests of a record without them or of a model not in float32 (its digest differs by the dtype alone).
    Settings are compared with a float tolerance (`1/255` against `0.0039215686` is the same rescaling).

    Args:
        model ([`VideoCaptioningPreTrainedModel`]): the captioner to train or score.
        feature_extractor ([`VideoCaptioningFeatureExtractor`]): the frame preprocessing of its processor.
        features_info ([`~hf_vidcap.data.VideoFeaturesInfo`], *optional*): how the dataset's features were extracted
            ([`features_info_of`]); `None` checks nothing.
        dataset (`str` or `os.PathLike`): the dataset's folder, for the messages.

    Raises:
        `ValueError`: naming the dataset and the backbone or the frame settings that differ.
    """
    if features_info is None or model.vision_model is None:
        return
    config = model.config
    if (config.vision_feature_pooling, config.vision_feature_grid_size) != (
        features_info.vision_feature_pooling,
        features_info.vision_feature_grid_size,
    ):
        raise ValueError(
            f"The features of {dataset} were pooled by {features_info.vision_feature_pooling!r} (grid "
            f"{features_info.vision_feature_grid_size}), the model pools its backbone's output by "
            f"{config.vision_feature_pooling!r} (grid {config.vision_feature_grid_size}): it would learn from, or be "
            "scored on, features it does not compute from video files."
        )
    extracted = features_info.feature_extractor
    if frames := _differing_settings(extracted, feature_extractor, _frame_pixel_settings):
        raise ValueError(
            f"The features of {dataset} were extracted from frames made with {frames}: it would learn from, or be "
            "scored on, features it does not compute from video files. Extract them with the processor's settings, or "
            "train on the videos."
        )
    if model.dtype == torch.float32:
        _check_backbone_digests(model, features_info, dataset)
    if sampling := _differing_settings(extracted, feature_extractor, _frame_sampling_settings):
        logger.warning(
            f"The features of {dataset} were extracted from frames sampled with {sampling}: the model learns from, or "
            "is scored on, other frame counts or rates than it captions video files with."
        )


def _check_backbone_digests(
    model: VideoCaptioningPreTrainedModel, features_info: VideoFeaturesInfo, dataset: str | os.PathLike
) -> None:
    """Refuse features whose recorded backbone weight digests are not those of the model's backbones."""
    backbones = [("frame backbone", model.vision_model, features_info.backbone_weights_sha256)]
    if getattr(model, "clip_model", None) is not None:
        backbones.append(("clip video model", model.clip_model, features_info.clip_backbone_weights_sha256))
    for name, encoder, recorded in backbones:
        if recorded is not None and weights_sha256(encoder.backbone) != recorded:
            raise ValueError(
                f"The features of {dataset} were extracted by another {name} than the one inside the model: it would "
                "learn from, or be scored on, features it does not compute from video files. Extract them with the "
                f"model's {name}, or train on the videos."
            )


def _differing_settings(
    extracted: VideoCaptioningFeatureExtractor,
    processor: VideoCaptioningFeatureExtractor,
    settings_of: Callable[[VideoCaptioningFeatureExtractor], dict[str, Any]],
) -> str:
    """The settings (of those `settings_of` picks) in which the extraction's preprocessing differs from the
    processor's, as `"name value (the processor's: value)"` phrases, or `""` when none does."""
    theirs, ours = settings_of(extracted), settings_of(processor)
    return ", ".join(
        f"{name} {theirs[name]} (the processor's: {ours[name]})"
        for name in theirs
        if not _same_setting(theirs[name], ours[name])
    )


def _same_setting(theirs: Any, ours: Any) -> bool:
    """Whether two preprocessing settings are equal, numbers (and lists of them) up to float rounding."""
    numbers = (int, float, list)
    if isinstance(theirs, numbers) and isinstance(ours, numbers) and np.shape(theirs) == np.shape(ours):
        return bool(np.allclose(theirs, ours, rtol=1e-6, atol=1e-8))
    return theirs == ours


def _frame_sampling_settings(feature_extractor: VideoCaptioningFeatureExtractor) -> dict[str, Any]:
    """The settings that pick a video file's frames."""
    return {"num_frames": feature_extractor.num_frames, "fps": feature_extractor.fps}


def _frame_pixel_settings(feature_extractor: VideoCaptioningFeatureExtractor) -> dict[str, Any]:
    """The settings that make a frame's pixel values, `None` for those switched off."""
    resizes, rescales, normalizes = (
        feature_extractor.do_resize,
        feature_extractor.do_rescale,
        feature_extractor.do_normalize,
    )
    return {
        "size": feature_extractor.size if resizes else None,
        "resample": feature_extractor.resample if resizes else None,
        "rescale_factor": feature_extractor.rescale_factor if rescales else None,
        "image_mean": feature_extractor.image_mean if normalizes else None,
        "image_std": feature_extractor.image_std if normalizes else None,
    }


def frame_preprocessing(
    num_frames: int | None = None, frame_size: int | None = None, features_info: VideoFeaturesInfo | None = None
) -> VideoCaptioningFeatureExtractor | None:
    """The frame preprocessing a new processor gets from the frame options given, or `None` without any (a new
    processor then preprocesses frames as the features' extraction did, or by default).

    Args:
        num_frames (`int`, *optional*): frames sampled per video.
        frame_size (`int`, *optional*): side of the square frames.
        features_info ([`~hf_vidcap.data.VideoFeaturesInfo`], *optional*): how the training features were extracted:
            the options given change only their own settings of that preprocessing (its frame rate, normalization and
            the other option stay).
    """
    options = {"num_frames": num_frames, "size": frame_size}
    options = {name: value for name, value in options.items() if value is not None}
    if not options:
        return None
    if features_info is None:
        return VideoCaptioningFeatureExtractor(**options)
    return VideoCaptioningFeatureExtractor.from_dict({**features_info.feature_extractor.to_dict(), **options})


def load_or_build_captioner(
    train_dataset: Dataset,
    model_type: str | None = None,
    model_name_or_path: str | os.PathLike | None = None,
    config_overrides: str | None = None,
    vision_model: str | os.PathLike | None = None,
    feature_extractor: VideoCaptioningFeatureExtractor | None = None,
    min_word_count: int = 1,
    max_vocab_size: int | None = None,
    features_info: VideoFeaturesInfo | None = None,
    extend_vocabulary: bool = True,
) -> tuple[VideoCaptioningPreTrainedModel, VideoCaptioningProcessor]:
    """The model and processor to train on `train_dataset`: a saved one to fine-tune, or a new one.

    A new model gets a vocabulary from the training captions, the sizes of the dataset's `video_features` and extra
    streams (or of the backbone of `vision_model`), and, if its config asks for `standardize_video_features`, the
    statistics of the training features (of every stream it reads). Given the record of how the features were extracted
    (`features_info`), it also gets that backbone, pooling and frame preprocessing, and for G2L the clip model and
    region grid, so that the trained model captions video files as well.

    Args:
        train_dataset (`datasets.Dataset`): the training split.
        model_type (`str`, *optional*): architecture of a new model; exactly one of it and `model_name_or_path`.
        model_name_or_path (`str` or `os.PathLike`, *optional*): a saved model and processor to fine-tune.
        config_overrides (`str`, *optional*): config fields of a new model, `"field=value,..."`.
        vision_model (`str` or `os.PathLike`, *optional*): vision backbone of a new model (see [`build_model`]).
        feature_extractor ([`VideoCaptioningFeatureExtractor`], *optional*): frame preprocessing of a new processor.
        min_word_count (`int`, *optional*, defaults to 1): words seen fewer times in training map to `<unk>` (in a new
            vocabulary, or added to a saved one).
        max_vocab_size (`int`, *optional*): largest vocabulary of a new processor.
        features_info ([`~hf_vidcap.data.VideoFeaturesInfo`], *optional*): how the dataset's features were extracted
            ([`features_info_of`] a folder written by `hf-vidcap extract-features`); `vision_model` and
            `feature_extractor`, when given, take precedence.
        extend_vocabulary (`bool`, *optional*, defaults to `True`): when fine-tuning, add the words of the training
            captions the saved vocabulary lacks (the model's word embeddings and output layer grow, the known words keep
            theirs; see [`~hf_vidcap.processing.extend_word_tokenizer`]); with `False` they are read as `<unk>`, and a
            model fine-tuned on many of them learns to say `<unk>`, which decodes to nothing.
    """
    if (model_type is None) == (model_name_or_path is None):
        raise ValueError("Pass exactly one of a model type (a new model) or a saved model folder (to fine-tune).")
    if model_name_or_path is not None:
        if config_overrides or vision_model:
            raise ValueError("Config overrides and a vision model apply to a new model, not to a saved one.")
        model, processor = load_captioner(model_name_or_path)
        check_features_match(model, processor.feature_extractor, features_info, "the training set")
        tokenizer, new_words = extend_word_tokenizer(
            processor.tokenizer, training_captions(train_dataset), min_word_count
        )
        if new_words and extend_vocabulary:
            processor = VideoCaptioningProcessor(processor.feature_extractor, tokenizer)
            model.resize_token_embeddings(len(tokenizer))
            logger.warning(
                f"Added {len(new_words)} words of the training captions to the vocabulary of {model_name_or_path} "
                f"(now {len(tokenizer)} tokens; most frequent: {', '.join(new_words[:5])}): they start untrained."
            )
        elif new_words:
            logger.warning(
                f"{len(new_words)} words of the training captions are not in the vocabulary of {model_name_or_path} "
                f"and are read as <unk> (most frequent: {', '.join(new_words[:5])})."
            )
        return model, processor
    backbone = {}
    if features_info is not None:
        feature_extractor = feature_extractor or features_info.feature_extractor
        if vision_model is None:
            vision_model = features_info.backbone_path
            backbone = {
                "vision_feature_pooling": features_info.vision_feature_pooling,
                "vision_feature_grid_size": features_info.vision_feature_grid_size,
                **_extra_stream_config(model_type, features_info),
            }
    processor = build_processor(train_dataset, feature_extractor, min_word_count, max_vocab_size)
    model = build_model(
        model_type,
        vocab_size=len(processor.tokenizer),
        vision_model=vision_model,
        config_overrides=config_overrides,
        **{**_stream_sizes(model_type, train_dataset), **backbone},
    )
    if "clip_vision_config" in backbone:
        model.clip_model.backbone.load_state_dict(
            AutoModel.from_pretrained(features_info.clip_backbone_path).state_dict()
        )
    if model.vision_model is not None:
        _check_reads_frames(model, processor.feature_extractor, vision_model)
        check_features_match(model, processor.feature_extractor, features_info, "the training set")
    if model.config.standardize_video_features and "video_features" in train_dataset.column_names:
        set_feature_statistics(model, train_dataset)
    return model, processor


def _check_reads_frames(
    model: VideoCaptioningPreTrainedModel,
    feature_extractor: VideoCaptioningFeatureExtractor,
    vision_model: str | os.PathLike,
) -> None:
    """Encode one blank frame of the size `feature_extractor` makes, so that a backbone that cannot read such frames (a
    text model, another captioner, a ViT made for another image size) is named before training starts."""
    if not feature_extractor.do_resize:
        return
    size = feature_extractor.size
    frame = torch.zeros(1, 1, model._num_channels(), size["height"], size["width"], dtype=model.dtype)
    try:
        with torch.inference_mode():
            model.vision_model(frame, torch.ones(1, 1, dtype=torch.long))
    except (RuntimeError, ValueError, TypeError, AttributeError) as error:
        raise ValueError(
            f"The vision model {vision_model} ({type(model.vision_model.backbone).__name__}) cannot encode "
            f"{size['height']}x{size['width']} frames, the size the processor makes: {str(error).splitlines()[0]}"
        ) from error


def set_feature_statistics(model: VideoCaptioningPreTrainedModel, dataset: Dataset) -> None:
    """Give `model` the standardization statistics (mean, standard deviation) of every stream it reads
    (`video_features` and its `video_streams()`) that `dataset` holds."""
    for stream in model._all_streams():
        if stream.name in dataset.column_names:
            statistics = video_feature_statistics(dataset, column=stream.name)
            model.set_video_feature_statistics(*statistics, input_name=stream.name)


def _stream_sizes(model_type: str, dataset: Dataset) -> dict[str, int]:
    """Config fields that size a new model's streams to the dataset's columns: `<prefix>_feature_size` for every
    `<prefix>_features` column the architecture has that field for (`video_feature_size` for `video_features`), and
    `num_regions` for a column with a region axis (see [`~hf_vidcap.modeling.VideoStream`])."""
    config_class = get_architecture(model_type).config_class
    fields = {}
    for column in dataset.column_names:
        if not (column.endswith("_features") and hasattr(config_class, _size_field(column))):
            continue
        shape = dataset_feature_shape(dataset, column)
        if shape is None:
            continue
        fields[_size_field(column)] = shape[-1]
        if len(shape) == 2 and hasattr(config_class, "num_regions"):
            fields["num_regions"] = shape[0]
    return fields


def _size_field(input_name: str) -> str:
    """The config field that sizes a stream, by its name: `clip_feature_size` for `clip_features` (see
    [`~hf_vidcap.modeling.VideoStream`])."""
    return f"{input_name.removesuffix('_features')}_feature_size"


def _extra_stream_config(model_type: str, features_info: VideoFeaturesInfo) -> dict[str, Any]:
    """Config fields with which a new multi-stream captioner (G2L) computes the clip and region features that
    `features_info` records from video files: the clip model (its weights are loaded after) and the region grid."""
    config_class = get_architecture(model_type).config_class
    fields = {}
    if features_info.clip_backbone_path is not None and hasattr(config_class, "clip_vision_config"):
        fields["clip_vision_config"] = AutoConfig.from_pretrained(features_info.clip_backbone_path)
        fields["clip_num_frames"] = features_info.clip_num_frames
    if features_info.region_grid_size is not None and hasattr(config_class, "num_regions"):
        fields["num_regions"] = features_info.region_grid_size**2
        fields["region_frame_stride"] = features_info.region_frame_stride
    return fields


def dataset_feature_shape(dataset: Dataset, column: str = "video_features") -> tuple[int, ...] | None:
    """The shape of one frame's features in `column`: `(feature_size,)`, or `(num_regions, feature_size)` for a stream
    of regions (`None` without the column, or for an empty dataset with a column of lists)."""
    if column not in dataset.column_names:
        return None
    shape = getattr(dataset.features[column], "shape", None)
    if shape is not None:
        return tuple(int(size) for size in shape[1:])
    return np.asarray(dataset[0][column]).shape[1:] if len(dataset) else None


def check_dataset(
    dataset: Dataset, model: VideoCaptioningPreTrainedModel, split: str, needs_captions: bool = True
) -> None:
    """Check that a split can train or evaluate `model`, with a one-line error naming the split otherwise.

    Args:
        dataset (`datasets.Dataset`): the split.
        model ([`VideoCaptioningPreTrainedModel`]): the captioner.
        split (`str`): the split's name, for the messages.
        needs_captions (`bool`, *optional*, defaults to `True`): whether reference captions are required.

    Raises:
        `ValueError`: for an empty split, missing captions, features whose size is not the model's, videos for a
        model without a vision backbone, or video files that cannot be read (all of them are checked with
        [`~hf_vidcap.check_video`]).
    """
    if len(dataset) == 0:
        raise ValueError(f"The {split} split is empty.")
    if needs_captions:
        training_captions(dataset, split)
    if "video_features" in dataset.column_names:
        for stream in model._all_streams():
            _check_stream_shape(dataset, split, stream)
        missing = [stream.name for stream in model.video_streams() if stream.name not in dataset.column_names]
        if missing:
            raise ValueError(
                f"The {split} split has video_features but no {', '.join(missing)}, which the model also reads: "
                "extract them too (hf-vidcap extract-features --clip-vision-model/--clip-vision-config, "
                "--region-grid-size)."
            )
    elif "video_path" in dataset.column_names:
        if model.vision_model is None:
            raise ValueError(
                f"The {split} split has videos (video_path) but no video_features, and the model has no vision "
                "backbone: extract features first (hf-vidcap extract-features) or build the model with a vision model."
            )
        _check_video_files(dataset, split)
    else:
        raise ValueError(
            f"The {split} split has neither video_features nor video_path (columns: {', '.join(dataset.column_names)})."
        )


# How many unreadable videos an error lists by name.
_LISTED_BAD_VIDEOS = 5


def _check_video_files(dataset: Dataset, split: str) -> None:
    """Refuse a split holding a video file that cannot be read, naming the bad files, before a run that would stop at
    the first batch holding one (hours in, on a large folder)."""
    paths = list(dict.fromkeys(dataset["video_path"]))
    problems = []
    for path in logging.tqdm(paths, desc=f"Checking the {split} videos", unit="video", leave=False):
        try:
            check_video(path)
        except InvalidVideoError as error:
            problems.append(str(error))
    if problems:
        listed = " ".join(problems[:_LISTED_BAD_VIDEOS])
        more = f" ... and {len(problems) - _LISTED_BAD_VIDEOS} more." if len(problems) > _LISTED_BAD_VIDEOS else ""
        raise ValueError(
            f"{len(problems)} of {len(paths)} videos of the {split} split cannot be read: {listed}{more} Fix them or "
            "leave their rows out: missing_videos='drop' (--missing-videos drop) leaves out files not on disk, and "
            "hf-vidcap extract-features skips unreadable videos and lists them."
        )


def _check_stream_shape(dataset: Dataset, split: str, stream: VideoStream) -> None:
    """Refuse a column whose frames have other sizes than the model's `stream` (a missing column passes)."""
    shape = dataset_feature_shape(dataset, stream.name)
    expected = stream.shape(batch_size=1, num_frames=1)[2:]
    if shape is None or shape == expected:
        return
    per = "per frame" if stream.frame_stride == 1 else f"per step of {stream.frame_stride} frames"
    if len(shape) != len(expected):
        found, wanted = f"shape {shape}", f"{expected} {per}, {stream.layout} in all"
    elif shape[:-1] != expected[:-1]:
        found, wanted = f"{shape[0]} regions {per}", f"{expected[0]} (config.num_regions)"
    else:
        found, wanted = f"{shape[-1]} values {per}", f"{expected[-1]} (config.{_size_field(stream.name)})"
    raise ValueError(
        f"The {split} split's {stream.name} have {found} but the model expects {wanted}: extract features with the "
        "backbone the model was built for, or build the model for these features."
    )


class CaptionMetrics:
    """`compute_metrics` for `Seq2SeqTrainer(predict_with_generate=True)`: decodes the generated ids and scores them
    against every reference caption of the evaluation clips with [`compute_caption_metrics`].

    The trainer hands predictions over in dataset order, so the references are taken from the evaluation dataset in
    its order. Across processes each step gathers one batch per process, in rank order; rows past the dataset's length
    are the duplicates that evened out the last step (under `torchrun` on CPU, transformers 5.23 was seen to keep
    them) and are dropped.

    Args:
        processor ([`VideoCaptioningProcessor`]): decodes the generated ids.
        references (`Sequence[Sequence[str]]`): the reference captions of each evaluation clip.
        meteor (`bool`, *optional*, defaults to `False`): whether to compute METEOR (starts Java at every evaluation).
    """

    def __init__(
        self, processor: VideoCaptioningProcessor, references: Sequence[Sequence[str]], meteor: bool = False
    ) -> None:
        self.processor = processor
        self.references = [list(clip_references) for clip_references in references]
        self.meteor = meteor

    def __call__(self, eval_prediction: EvalPrediction) -> dict[str, float]:
        predictions = eval_prediction.predictions
        predictions = predictions[0] if isinstance(predictions, tuple) else predictions
        if isinstance(predictions, list):  # `eval_do_concat_batches=False`: one array per step, of its own length
            length = max(batch.shape[1] for batch in predictions)
            predictions = np.concatenate(
                [np.pad(batch, ((0, 0), (0, length - batch.shape[1])), constant_values=-100) for batch in predictions]
            )
        if predictions.ndim != 2 or not np.issubdtype(predictions.dtype, np.integer):
            raise ValueError(
                f"CaptionMetrics scores generated token ids, (num_clips, length) integers, but got {predictions.dtype} "
                f"predictions of shape {predictions.shape} (logits?): set predict_with_generate=True in the "
                "Seq2SeqTrainingArguments."
            )
        if len(predictions) < len(self.references):
            raise ValueError(
                f"Got {len(predictions)} predictions for {len(self.references)} evaluation clips: the evaluation set "
                "must be read in order, each clip at least once."
            )
        captions = self.processor.batch_decode(predictions[: len(self.references)], skip_special_tokens=True)
        scores = compute_caption_metrics(captions, self.references, meteor=self.meteor)
        return {name: score for name, score in scores.items() if score is not None}


class VideoCaptioningTrainer(Seq2SeqTrainer):
    """The `Seq2SeqTrainer` of a captioner and its processor (the trainer's `processing_class`), as
    [`build_seq2seq_trainer`] makes it.

    `evaluate()` and `predict()` generate a caption for every clip of the dataset they are given and score it against
    that dataset's own reference `captions` with [`CaptionMetrics`]; each clip's first reference is the target of the
    loss. `create_model_card()`, which `push_to_hub()` calls, writes the hf_vidcap model card
    ([`~hf_vidcap.hub.create_model_card`]) instead of the generic one.

    Args:
        eval_split (`str`, *optional*, defaults to `"validation"`): the name of the evaluation split, for errors and
            the model card.
        args, kwargs: as `Seq2SeqTrainer`; `compute_metrics` is the [`CaptionMetrics`] of the evaluation dataset.
    """

    def __init__(self, *args: Any, eval_split: str = "validation", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_split = eval_split

    def evaluate(
        self,
        eval_dataset: Dataset | dict[str, Dataset] | str | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
        **gen_kwargs: Any,
    ) -> dict[str, float]:
        if not isinstance(eval_dataset, Dataset):  # the evaluation dataset(s) of the trainer, scored as made
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix, **gen_kwargs)
        return self._scored(super().evaluate, eval_dataset, "evaluation", ignore_keys, metric_key_prefix, **gen_kwargs)

    def predict(
        self,
        test_dataset: Dataset,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "test",
        **gen_kwargs: Any,
    ) -> PredictionOutput:
        return self._scored(
            super().predict, test_dataset, metric_key_prefix, ignore_keys, metric_key_prefix, **gen_kwargs
        )

    def _scored(self, run: Callable, dataset: Dataset, split: str, *args: Any, **kwargs: Any) -> Any:
        """`run(dataset, ...)` with the captions scored against the references of `dataset`."""
        with self.args.main_process_first(desc=f"the {split} split's references"):
            dataset, metrics = scored_split(dataset, self.model, self.processing_class, split)
        trainer_metrics, self.compute_metrics = self.compute_metrics, metrics
        try:
            return run(dataset, *args, **kwargs)
        finally:
            self.compute_metrics = trainer_metrics

    def create_model_card(
        self,
        language: str | None = None,
        license: str | None = None,
        tags: str | list[str] | None = None,
        model_name: str | None = None,
        finetuned_from: str | None = None,
        tasks: str | list[str] | None = None,
        dataset_tags: str | list[str] | None = None,
        dataset: str | list[str] | None = None,
        dataset_args: str | list[str] | None = None,
    ) -> None:
        """Writes the hf_vidcap model card to `README.md` in the output folder (`push_to_hub()` uploads it): the
        architecture, the video features, a usage snippet for the repository and, when `dataset` names the data they
        are on, the scores of the last evaluation. A README.md there that hf_vidcap did not write is kept.

        Args:
            license (`str`, *optional*): a Hub license id.
            tags (`str` or `list[str]`, *optional*): tags added to the card's own.
            model_name (`str`, *optional*): the repository name, when the trainer has no `hub_model_id`.
            dataset (`str` or `list[str]`, *optional*): the dataset trained and scored on (its first entry);
                `dataset_tags` by default.
            language, finetuned_from, tasks, dataset_args: `Trainer.create_model_card`'s, not part of this card.
        """
        if not self.is_world_process_zero():
            return
        readme = Path(self.args.output_dir, "README.md")
        if readme.is_file() and "hf_vidcap" not in (ModelCard.load(readme).data.tags or []):
            logger.warning(f"Keeping {readme} as the model card: hf_vidcap did not write it.")
            return
        dataset = dataset or dataset_tags or None
        if isinstance(dataset, list):
            dataset = dataset[0]
        scores = next((entry for entry in reversed(self.state.log_history) if "eval_runtime" in entry), None)
        if scores is not None and dataset is None:
            logger.warning("The model card leaves out the evaluation scores: pass the `dataset` they are on.")
            scores = None
        repo_id = self.hub_model_id or self.args.hub_model_id or model_name or Path(self.args.output_dir).name
        card = create_model_card(
            self.model,
            self.processing_class,
            repo_id,
            dataset=dataset,
            metrics=scores,
            metrics_split=self.eval_split,
            license=license,
            tags=tags,
        )
        card.save(readme)


def scored_split(
    dataset: Dataset, model: VideoCaptioningPreTrainedModel, processor: VideoCaptioningProcessor, split: str
) -> tuple[Dataset, CaptionMetrics]:
    """A split made ready for a trainer to score: checked against the model, each clip's first reference as its
    `caption` (the target of the loss), and the [`CaptionMetrics`] that scores captions against its references.

    Raises:
        `ValueError`: naming `split`, if it cannot feed the model or has a clip without reference captions.
    """
    check_dataset(dataset, model, split)
    references = list(dataset["captions"])
    if unreferenced := [index for index, captions in enumerate(references) if not captions]:
        raise ValueError(
            f"The {split} split has clips without reference captions (rows {unreferenced[:5]}"
            f"{', ...' if len(unreferenced) > 5 else ''}): every clip scored needs at least one."
        )
    if "caption" in dataset.column_names:
        dataset = dataset.remove_columns("caption")
    dataset = dataset.add_column("caption", [captions[0] for captions in references])
    return dataset, CaptionMetrics(processor, references)


def build_seq2seq_trainer(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    args: Seq2SeqTrainingArguments,
    train_dataset: Dataset | None,
    eval_dataset: Dataset | None = None,
    *,
    train_split: str = "training",
    eval_split: str = "validation",
    **trainer_kwargs: Any,
) -> VideoCaptioningTrainer:
    """A [`VideoCaptioningTrainer`] for a captioner: it trains on one row per (clip, caption) pair and evaluates by
    generating a caption per clip and scoring it with BLEU-1..4, ROUGE-L and CIDEr-D against all references.

    The processor is the trainer's `processing_class`, so every checkpoint and `trainer.save_model()` hold it beside
    the weights and load with `AutoProcessor`. `args.remove_unused_columns` is turned off (the collator reads the
    caption and video columns) and `args.predict_with_generate` on.

    Args:
        model ([`VideoCaptioningPreTrainedModel`]): the captioner.
        processor ([`VideoCaptioningProcessor`]): its processor.
        args (`Seq2SeqTrainingArguments`): the training arguments; `generation_num_beams` sets the beams used when
            evaluating.
        train_dataset (`datasets.Dataset`, *optional*): the training split, one row per clip with its `captions`;
            `None` for a trainer that only evaluates or predicts.
        eval_dataset (`datasets.Dataset`, *optional*): the evaluation split, likewise.
        train_split (`str`, *optional*, defaults to `"training"`): what errors about `train_dataset` call it.
        eval_split (`str`, *optional*, defaults to `"validation"`): the name of `eval_dataset`'s split, for errors and
            the model card.
        trainer_kwargs: more `Seq2SeqTrainer` arguments (`callbacks`, ...).
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched > 1 and args.world_size != launched:
        raise ValueError(
            f"{launched} processes were launched but the trainer sees {args.world_size}, so each would train alone: "
            "on a machine without an accelerator pass `use_cpu=True` (`--use_cpu`) so that they train together."
        )
    if args.label_smoothing_factor:
        raise ValueError(
            f"label_smoothing_factor={args.label_smoothing_factor} is not supported: the Trainer then takes the labels "
            "away from the model, whose decoder inputs are built from them."
        )
    if args.batch_eval_metrics:
        raise ValueError(
            "batch_eval_metrics=True is not supported: CIDEr-D weighs words by their frequency over all the clips "
            "scored, so the captions are scored together at the end of the evaluation."
        )
    args.remove_unused_columns = False
    args.predict_with_generate = True
    compute_metrics = None
    with args.main_process_first(desc="one row per caption"):
        if train_dataset is not None:
            check_dataset(train_dataset, model, train_split)
            train_dataset = explode_captions(train_dataset)
        if eval_dataset is not None:
            eval_dataset, compute_metrics = scored_split(eval_dataset, model, processor, eval_split)
    return VideoCaptioningTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=VideoCaptioningCollator(
            processor,
            max_length=model.config.max_caption_length,
            feature_columns=[stream.name for stream in model._all_streams()],
        ),
        processing_class=processor,
        compute_metrics=compute_metrics,
        eval_split=eval_split,
        **trainer_kwargs,
    )


@torch.inference_mode()
def generate_captions(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    dataset: Dataset,
    batch_size: int = 32,
    **generate_kwargs: Any,
) -> list[str]:
    """Caption every row of a dataset with `generate()`, in batches, in the dataset's order.

    Args:
        model ([`VideoCaptioningPreTrainedModel`]): the captioner (put in eval mode by the caller).
        processor ([`VideoCaptioningProcessor`]): its processor.
        dataset (`datasets.Dataset`): rows with precomputed features (`video_features`, and the extra streams of a
            multi-stream model, `model.video_streams()`), read in preference, or else a `video_path`.
        batch_size (`int`, *optional*, defaults to 32): clips captioned at once.
        generate_kwargs: passed to `generate()` (`num_beams`, `max_new_tokens`, ...).

    Returns:
        `list[str]`: one caption per row.
    """
    read = {stream.name for stream in model._all_streams()}
    feature_columns = [name for name in dataset.column_names if name in read]
    rows = dataset.select_columns(feature_columns or ["video_path"])
    rows = rows.with_format("numpy") if feature_columns else rows
    captions = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        videos = {name: list(batch[name]) for name in feature_columns} or {"videos": batch["video_path"]}
        inputs = processor(**videos, return_tensors="pt").to(model.device)
        ids = model.generate(**inputs, **generate_kwargs)
        captions += processor.batch_decode(ids, skip_special_tokens=True)
    return captions


def format_metric_table(
    rows: Mapping[str, Mapping[str, float | None]], metrics: Sequence[str] = METRIC_NAMES, indent: int = 0
) -> str:
    """A plain-text table of caption metrics, one row per system (`n/a` for a metric that was not computed).

    Args:
        rows (`Mapping[str, Mapping[str, float | None]]`): system name -> scores (as [`compute_caption_metrics`] gives).
        metrics (`Sequence[str]`, *optional*, defaults to all of them): the columns.
        indent (`int`, *optional*, defaults to 0): spaces before every line.
    """
    width = max(16, *(len(system) + 2 for system in rows))
    lines = [" " * indent + " " * width + "".join(f"{name:>10}" for name in metrics)]
    for system, scores in rows.items():
        cells = "".join(f"{'n/a':>10}" if scores[m] is None else f"{scores[m]:>10.3f}" for m in metrics)
        lines.append(" " * indent + f"{system:{width}}{cells}")
    return "\n".join(lines)


def write_coco_predictions(path: str | os.PathLike, video_ids: Sequence[str], captions: Sequence[str]) -> None:
    """Write captions in the coco-caption results format, `[{"image_id": video_id, "caption": ...}, ...]`."""
    results = [
        {"image_id": video_id, "caption": caption} for video_id, caption in zip(video_ids, captions, strict=True)
    ]
    Path(path).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
