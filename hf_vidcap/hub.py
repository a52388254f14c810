"""Publishing a captioner on the Hugging Face Hub: model, processor and a generated model card in one commit.

[`create_model_card`] writes the card (the repository's README.md) from what the model and processor say about
themselves: the architecture and its paper, the video features (backbone, pooling, frames per video, or precomputed
features), the dataset and scores it is given, and a usage snippet that loads the repository with
`trust_remote_code=True`, captions a video and prints the caption. [`push_to_hub`] checks that a saved folder (or a
model and its processor) is a complete captioner and uploads it with its card in one commit. The code files saved
next to the weights let anyone load it without hf_vidcap installed.

```python
>>> from hf_vidcap.hub import load_metrics, push_to_hub

>>> push_to_hub(
...     "demo_output/model",
...     "me/s2vt-synthetic",
...     dataset="synthetic-shapes",
...     metrics=load_metrics("demo_output/results.json")[0],
...     license="mit",
... )
```

From the shell: `hf-vidcap push demo_output/model --repo-id me/s2vt-synthetic --dataset synthetic-shapes --metrics
demo_output/results.json`.
Afterwards `model.push_to_hub(repo_id)` and `processor.push_to_hub(repo_id)` work as in transformers and keep the card.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import numbers
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import CommitInfo, CommitOperationAdd, EvalResult, HfApi, ModelCard, ModelCardData
from huggingface_hub.utils import HFValidationError, validate_repo_id
from safetensors import SafetensorError
from transformers import AutoConfig, AutoModel, AutoProcessor, PreTrainedConfig
from transformers.dynamic_module_utils import get_relative_import_files

from .modeling import ARCHITECTURES, VideoCaptioningConfig, VideoCaptioningPreTrainedModel
from .modeling.base import VideoStream
from .processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor


logger = logging.getLogger(__name__)

PIPELINE_TAG = "video-text-to-text"
CARD_TAGS = ("video-captioning", "hf_vidcap", "custom_code")
WEIGHTS_FILES = ("model.safetensors", "model.safetensors.index.json")

# Keys of `compute_caption_metrics` -> (Hub metric id, name shown on the card). Other keys are kept as they are.
CARD_METRICS = {
    "Bleu_1": ("bleu", "BLEU-1"),
    "Bleu_2": ("bleu", "BLEU-2"),
    "Bleu_3": ("bleu", "BLEU-3"),
    "Bleu_4": ("bleu", "BLEU-4"),
    "METEOR": ("meteor", "METEOR"),
    "ROUGE_L": ("rouge", "ROUGE-L"),
    "CIDEr": ("cider", "CIDEr-D"),
}

# `Trainer.save_metrics` writes `<prefix>_<score>`, with the run's bookkeeping beside the scores; the prefix says the
# split when the file does not (`evaluate()` scores the evaluation split, `predict()` the test split).
TRAINER_PREFIX_SPLITS = {"eval": "validation", "test": "test", "predict": "test"}
TRAINER_BOOKKEEPING = ("loss", "runtime", "samples_per_second", "steps_per_second", "epoch")
# What a `Trainer` checkpoint saves beside the model to resume training (`Trainer._save_optimizer_and_scheduler`,
# `_save_scaler`, `_save_rng_state`; one `rng_state_<rank>.pth` per process): of no use to whoever loads the model.
TRAINING_STATE_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state*.pth")
POOLING_DESCRIPTIONS = {
    "mean": "mean over the backbone's spatial positions (or patch tokens)",
    "cls": "the backbone's first (CLS) token",
    "pooler": "the backbone's pooled output",
    "grid": "{grid}x{grid} grid of average-pooled cells, concatenated (keeps coarse spatial layout)",
}


def create_model_card(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    repo_id: str,
    dataset: str | None = None,
    metrics: Mapping[str, float | None] | None = None,
    metrics_split: str | None = None,
    license: str | None = None,
    vision_model: str | None = None,
    tags: list[str] | None = None,
) -> ModelCard:
    """
    The model card of a captioner: YAML metadata the Hub indexes, and a description with a usage snippet.

    Args:
        model ([`VideoCaptioningPreTrainedModel`]):
            The captioner (any registered architecture).
        processor ([`VideoCaptioningProcessor`]):
            The processor published with it; its frame sampling and vocabulary are described.
        repo_id (`str`):
            The repository the card is for, as the usage snippet loads it (`"namespace/name"`).
        dataset (`str`, *optional*):
            The dataset the model was trained and scored on: a Hub dataset id or a name (`"msvd"`, `"msr-vtt"`).
        metrics (`Mapping[str, float | None]`, *optional*):
            Scores on `dataset`, as [`~hf_vidcap.metrics.compute_caption_metrics`] returns them (`None` values, such as
            METEOR without Java, are left out), or as `Trainer.evaluate()` returns them (`eval_CIDEr`, ...: the
            prefix is dropped, and so are the loss, runtime, throughput and epoch). Requires `dataset`.
        metrics_split (`str`, *optional*):
            The split of `dataset` the scores are on; by default `"validation"` for a `Trainer`'s `eval_` scores, else
            `"test"`.
        license (`str`, *optional*):
            A Hub license id, e.g. `"mit"` or `"apache-2.0"`.
        vision_model (`str`, *optional*):
            Where the frame features come from: the Hub id of the pretrained vision backbone inside the model, or of
            the model that extracted precomputed features.
        tags (`list[str]`, *optional*):
            Tags added to the card's own (`video-captioning`, `hf_vidcap`, the model type, `custom_code`).

    Returns:
        [`~huggingface_hub.ModelCard`]: the card; `str(card)` is the README.md text.

    Raises:
        `ValueError`: for a `repo_id` that is not a Hub repository id, scores that are not numbers, or scores without a
        dataset.
    """
    _check_repo_id(repo_id)  # it goes into the usage snippet's code
    config = model.config
    model_name = repo_id.split("/")[-1]
    metrics, trainer_split = _trainer_scores(metrics or {})
    metrics_split = metrics_split or trainer_split or "test"
    eval_results = _eval_results(metrics, dataset, metrics_split)
    card_data = ModelCardData(
        library_name="transformers",
        pipeline_tag=PIPELINE_TAG,
        tags=list(dict.fromkeys([*CARD_TAGS, config.model_type, *([tags] if isinstance(tags, str) else tags or [])])),
        datasets=[dataset] if dataset else None,
        metrics=list(dict.fromkeys(result.metric_type for result in eval_results)) or None,
        license=license,
        model_name=model_name if eval_results else None,
        eval_results=eval_results or None,
    )
    streams = _precomputed_streams(model, processor)  # runs the backbones: once per card
    intro = f"Video captioning with {_paper(type(model))}, as a 🤗 transformers model"
    intro += f" trained on {dataset}." if dataset else "."
    sections = [
        f"# {model_name}",
        f"{intro} Built with hf_vidcap: the modelling and processing code "
        "is in this repository, so it loads with `trust_remote_code=True` and needs only `transformers`, `torch` and "
        "`av` (PyAV), not hf_vidcap itself.",
        "## Model\n\n" + _table(_model_rows(model, processor)),
        "## Video features\n\n" + _table(_feature_rows(model, processor, vision_model, streams)),
    ]
    if eval_results:
        rows = [(result.metric_name, f"{result.metric_value:.4f}") for result in eval_results]
        sections.append(
            f"## Evaluation\n\nOn the {metrics_split} split of {dataset}, with the coco-caption metrics "
            "(`hf_vidcap.metrics.compute_caption_metrics`, the numbers of the reference implementation):\n\n"
            + _table(rows, header=("metric", "score"))
        )
    snippet = _usage_snippet(model, processor, repo_id, vision_model, "video.mp4", streams)
    sections.append(f"## Usage\n\n```python\n{snippet}```")
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n\n".join(sections) + "\n")


def usage_snippet(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    repo_id: str,
    vision_model: str | None = None,
    video: str = "video.mp4",
) -> str:
    """
    Python code that loads `repo_id` with `trust_remote_code=True`, captions one video and prints the caption.

    A model with a vision backbone reads the video file `video`. Features the model cannot compute from frames (all of
    them without a backbone) are filled with random numbers of the right shape, with a comment on where real ones
    come from.
    """
    return _usage_snippet(model, processor, repo_id, vision_model, video, _precomputed_streams(model, processor))


def _usage_snippet(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    repo_id: str,
    vision_model: str | None,
    video: str,
    streams: tuple[VideoStream, ...],
) -> str:
    """[`usage_snippet`] with the streams that must be passed precomputed already known."""
    config = model.config
    num_frames = processor.feature_extractor.num_frames or 16
    lines = [
        "import torch",
        "from transformers import AutoModel, AutoProcessor",
        "",
        f'processor = AutoProcessor.from_pretrained("{repo_id}", trust_remote_code=True)',
        f'model = AutoModel.from_pretrained("{repo_id}", trust_remote_code=True).eval()',
        "",
    ]
    if config.vision_config is not None:
        lines.append(f'inputs = processor(videos=["{video}"], return_tensors="pt")')
    else:
        source = f"`{vision_model}`" if vision_model else "the extractor used for training"
        lines += [
            f"# One (num_frames, {config.video_feature_size}) array of frame features per video, made by {source};",
            "# random numbers here.",
            f"video_features = [torch.randn({num_frames}, {config.video_feature_size})]",
            'inputs = processor(video_features=video_features, return_tensors="pt")',
        ]
    if streams:
        lines.append(
            f"# Features of the other streams {type(model).__name__} reads, padded like the frames; random here."
        )
    for stream in streams:
        shape = ", ".join(map(str, stream.shape(1, num_frames)))
        lines.append(f'inputs["{stream.name}"] = torch.randn({shape})')
    lines += [
        "with torch.inference_mode():",
        "    ids = model.generate(**inputs, num_beams=5)",
        "print(processor.batch_decode(ids, skip_special_tokens=True)[0])",
    ]
    return "\n".join(lines) + "\n"


def push_to_hub(
    model: VideoCaptioningPreTrainedModel | str | os.PathLike,
    repo_id: str,
    processor: VideoCaptioningProcessor | None = None,
    *,
    dataset: str | None = None,
    metrics: Mapping[str, float | None] | None = None,
    metrics_split: str | None = None,
    license: str | None = None,
    vision_model: str | None = None,
    tags: list[str] | None = None,
    commit_message: str = "Upload video captioning model",
    private: bool | None = None,
    token: str | bool | None = None,
) -> CommitInfo:
    """
    Uploads a captioner, its processor and a generated model card to a Hub model repository in one commit.

    The repository is created if needed. Every file of the saved folder is uploaded (weights, config, processor and
    tokenizer files, and the code files for `trust_remote_code=True`), plus the card of [`create_model_card`] as
    README.md; a README.md already in the folder is uploaded instead, as the card you wrote. Left out: hidden files,
    and as `Trainer.push_to_hub` leaves them, those under `_` and a training run's `checkpoint-*` folders; its `runs/`
    tracker logs; and the training state a `Trainer` checkpoint holds beside the model (optimizer, scheduler, scaler
    and random states), so a `checkpoint-N` folder itself publishes as a model. Nothing local is changed.

    Args:
        model ([`VideoCaptioningPreTrainedModel`], `str` or `os.PathLike`):
            A captioner, or a folder where `save_pretrained` wrote one and its processor.
        repo_id (`str`):
            The repository, `"namespace/name"` (or `"name"` in the namespace of the token).
        processor ([`VideoCaptioningProcessor`], *optional*):
            The processor of `model`; required with a model, not with a folder (which holds its own).
        dataset, metrics, metrics_split, license, vision_model, tags:
            What the card says, see [`create_model_card`].
        commit_message (`str`, *optional*, defaults to `"Upload video captioning model"`):
            The message of the commit.
        private (`bool`, *optional*):
            Whether a repository created here is private (an existing one keeps its visibility).
        token (`str` or `bool`, *optional*):
            The Hub token; by default the one of `hf auth login` or `HF_TOKEN`.

    Returns:
        [`~huggingface_hub.CommitInfo`]: the commit; `commit_url` and `repo_url` point to it on the Hub.

    Raises:
        `ValueError`: for a bad repository id, a folder that is not a saved captioner or lacks its processor, a
        processor whose vocabulary does not fit the model, or card arguments it cannot use; nothing is uploaded then.
        [`~huggingface_hub.errors.HfHubHTTPError`]: when the Hub refuses (an invalid or missing token, for instance).
    """
    _check_repo_id(repo_id)
    card_kwargs = dict(
        dataset=dataset,
        metrics=metrics,
        metrics_split=metrics_split,
        license=license,
        vision_model=vision_model,
        tags=tags,
    )
    hub_kwargs = dict(commit_message=commit_message, private=private, token=token)
    if isinstance(model, (str, os.PathLike)):
        if processor is not None:
            raise ValueError("A saved folder holds its own processor: pass `processor` only with a model object.")
        folder = Path(model)
        model, processor = _load_saved_captioner(folder)
        return _upload(folder, model, processor, repo_id, card_kwargs, **hub_kwargs)
    if not isinstance(model, VideoCaptioningPreTrainedModel):
        raise ValueError(f"`model` must be an hf_vidcap captioner or a saved folder, got {type(model).__name__}.")
    if not isinstance(processor, VideoCaptioningProcessor):
        raise ValueError(
            "Pass the model's `processor` (a VideoCaptioningProcessor): the published repository needs it to turn "
            f"videos into inputs and ids into captions; got {type(processor).__name__}."
        )
    _check_vocabulary(model.config, processor, "the processor")
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
        return _upload(Path(folder), model, processor, repo_id, card_kwargs, **hub_kwargs)


def load_metrics(path: str | os.PathLike) -> tuple[dict[str, float | None], str | None]:
    """
    Reads scores from a JSON file: a mapping of metric name to score, or an object whose `"metrics"` holds one, as
    `hf-vidcap evaluate --metrics-file` and `hf-vidcap demo` (`results.json`) write them. A `Trainer`'s metrics file
    (`eval_results.json`, with `eval_CIDEr`, ..., `eval_runtime`, `epoch`) gives its scores without the prefix and
    without the loss, runtime, throughput and epoch.

    Returns:
        `tuple`: the scores, and the split they were measured on if the file says (its `"split"`) or, for a `Trainer`'s
        file, `"validation"` for `eval_` scores and `"test"` for `test_` or `predict_` ones; else `None`.

    Raises:
        `ValueError`: naming the file, if it is missing, not JSON, or holds no such mapping.
    """
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"Metrics file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"Metrics file {path} is not a JSON file: {error}") from None
    metrics = content.get("metrics", content) if isinstance(content, dict) else content
    if metrics is content and isinstance(content, dict):  # a flat file: its "split" names the split, not a score
        metrics = {name: value for name, value in content.items() if name != "split"}
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(
            f'Metrics file {path} must hold a JSON object of metric name -> score (or one under "metrics").'
        )
    metrics, trainer_split = _trainer_scores(metrics)
    return metrics, content.get("split") if isinstance(content.get("split"), str) else trainer_split


def _trainer_scores(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """A `Trainer`'s metrics (`eval_CIDEr`, ..., `eval_loss`, `eval_runtime`, `epoch`) as caption scores without the
    prefix and the run's bookkeeping, with the split their prefix stands for; other scores as they are, with `None`."""
    if not isinstance(metrics, Mapping):
        return metrics, None  # (refused by `_eval_results`, naming the type)
    prefix = next((prefix for prefix in TRAINER_PREFIX_SPLITS if f"{prefix}_runtime" in metrics), None)
    if prefix is None:
        return dict(metrics), None
    scores = {
        name.removeprefix(f"{prefix}_"): value
        for name, value in metrics.items()
        if name.startswith(f"{prefix}_") and name.removeprefix(f"{prefix}_") not in TRAINER_BOOKKEEPING
    }
    return scores, TRAINER_PREFIX_SPLITS[prefix]


def _upload(
    folder: Path,
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    repo_id: str,
    card_kwargs: dict,
    commit_message: str,
    private: bool | None,
    token: str | bool | None,
) -> CommitInfo:
    """Creates the repository and commits every file of the checked `folder` and the card of `model`."""
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(_is_left_out(part) for part in path.relative_to(folder).parts)
    )
    training_state = [
        path for path in files if path.parent == folder and any(path.match(name) for name in TRAINING_STATE_FILES)
    ]
    if training_state:
        logger.info("Leaving out the training state: %s.", ", ".join(path.name for path in training_state))
        files = [path for path in files if path not in training_state]
    operations = [
        CommitOperationAdd(path_in_repo=path.relative_to(folder).as_posix(), path_or_fileobj=path) for path in files
    ]
    if (folder / "README.md").is_file():
        logger.warning(
            "Uploading %s as the model card; no card is generated from the card arguments.", folder / "README.md"
        )
        card = None
    else:
        # Built before anything is created on the Hub, so that card arguments it cannot use stop the push here.
        card = create_model_card(model, processor, repo_id, **card_kwargs)

    api = HfApi(token=token)
    created_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    if card is not None:
        if created_id != repo_id:  # "name" became "namespace/name": the usage snippet needs the full id
            card = create_model_card(model, processor, created_id, **card_kwargs)
        operations.append(CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=str(card).encode()))
    return api.create_commit(created_id, operations, commit_message=commit_message)


def _check_repo_id(repo_id: str) -> None:
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise ValueError(f"`repo_id` {repo_id!r} is not a Hub repository id ('namespace/name'): {error}") from None


def _is_left_out(part: str) -> bool:
    """Whether a path component keeps its file out of a push: hidden files and those under `_` and a training run's
    checkpoints (optimizer and random states), as `Trainer.push_to_hub` leaves them out, and its `runs/` tracker
    logs."""
    return part.startswith((".", "_", "checkpoint-")) or part == "runs"


def _load_saved_captioner(folder: Path) -> tuple[VideoCaptioningPreTrainedModel, VideoCaptioningProcessor]:
    """The captioner and processor `save_pretrained` wrote in `folder`, checked to load with `trust_remote_code=True`."""
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder: pass the folder where `save_pretrained` wrote the captioner.")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ValueError(f"{folder} has no config.json: it is not a model saved with `save_pretrained`.")
    try:
        saved = {"config.json": json.loads(config_file.read_text())}
        model_type = saved["config.json"].get("model_type")
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"{config_file} is not a JSON object: it is not a saved model config.") from None
    known = sorted(model_class.config_class.model_type for model_class in ARCHITECTURES.values())
    if model_type not in known:
        raise ValueError(
            f"{folder} holds a {model_type!r} model, not an hf_vidcap captioner (model types: {', '.join(known)})."
        )
    if not any((folder / name).is_file() for name in WEIGHTS_FILES):
        raise ValueError(f"{folder} has no weights ({' or '.join(WEIGHTS_FILES)}): save the model there again.")
    if not (folder / "processor_config.json").is_file():
        raise ValueError(
            f"{folder} has no processor (processor_config.json): save it next to the model with "
            "`processor.save_pretrained(folder)`; the repository needs it to turn videos into inputs."
        )
    try:
        processor = AutoProcessor.from_pretrained(folder)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"The processor saved in {folder} does not load: {error}") from None
    config = AutoConfig.from_pretrained(folder)
    _check_vocabulary(config, processor, f"the processor in {folder}")
    saved["processor_config.json"] = json.loads((folder / "processor_config.json").read_text())
    for config_name, config_dict in saved.items():
        auto_map = config_dict.get("auto_map") or {}
        missing = _missing_code_files(folder, {f"{name.split('.')[0]}.py" for name in auto_map.values()})
        if not auto_map or missing:
            raise ValueError(
                f"{folder / config_name} was saved without the code files that `trust_remote_code=True` loads "
                f"({', '.join(missing) or 'no auto_map'}): save it again with hf_vidcap imported."
            )
    try:
        model = AutoModel.from_pretrained(folder, config=config).eval()
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        raise ValueError(f"The model saved in {folder} does not load: {error}") from None
    return model, processor


def _missing_code_files(folder: Path, module_files: set[str]) -> list[str]:
    """The code files `trust_remote_code=True` would load from `folder` for `module_files` that are not there: each
    module file, or the first file missing among those it imports relatively (an architecture file imports `base.py`)."""
    missing = set()
    for name in module_files:
        try:
            get_relative_import_files(str(folder / name))
        except FileNotFoundError as error:
            missing.add(Path(error.filename).name)
    return sorted(missing)


def _check_vocabulary(config: VideoCaptioningConfig, processor: VideoCaptioningProcessor, what: str) -> None:
    if len(processor.tokenizer) != config.vocab_size:
        raise ValueError(
            f"The tokenizer of {what} has {len(processor.tokenizer)} words but the model's `vocab_size` is "
            f"{config.vocab_size}: it is not the processor the model was trained with."
        )


def _eval_results(metrics: Mapping[str, float | None], dataset: str | None, split: str) -> list[EvalResult]:
    """The card's model-index entries, one per score that is not `None`."""
    if not isinstance(metrics, Mapping):
        raise ValueError(f"`metrics` must map metric names to scores, got a {type(metrics).__name__}.")
    if any(value is not None for value in metrics.values()) and not dataset:
        raise ValueError("Scores need the dataset they were measured on: pass `dataset` with `metrics`.")
    results = []
    for key, value in metrics.items():
        if value is None:
            continue
        if not isinstance(key, str):
            raise ValueError(f"Metric names must be strings, got {key!r}.")
        # NumPy and 0-d torch scalars (as evaluate and compute loops give them) are numbers too.
        number = value.item() if getattr(value, "ndim", None) == 0 and hasattr(value, "item") else value
        if isinstance(number, bool) or not isinstance(number, numbers.Real) or not math.isfinite(number):
            raise ValueError(f"Score {key!r} must be a finite number, got {value!r}.")
        metric_type, metric_name = CARD_METRICS.get(key, (key.lower(), key))
        results.append(
            EvalResult(
                task_type=PIPELINE_TAG,
                task_name="Video captioning",
                dataset_type=dataset,
                dataset_name=dataset,
                dataset_split=split,
                metric_type=metric_type,
                metric_name=metric_name,
                metric_value=float(number),
            )
        )
    return results


def _paper(model_class: type[VideoCaptioningPreTrainedModel]) -> str:
    """The architecture and its paper, from the first paragraph of the architecture file's docstring."""
    docstring = inspect.getdoc(sys.modules[model_class.__module__]) or model_class.__name__
    return " ".join(docstring.split("\n\n")[0].split()).rstrip(".")


def _model_rows(model: VideoCaptioningPreTrainedModel, processor: VideoCaptioningProcessor) -> list[tuple[str, str]]:
    parameters = sum(parameter.numel() for parameter in model.parameters())
    trained = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    return [
        ("architecture", f"`{type(model).__name__}` (`{model.config.model_type}`)"),
        ("paper", _paper(type(model))),
        (
            "parameters",
            f"{parameters:,}" + (f" ({trained:,} trained, the rest frozen)" if trained < parameters else ""),
        ),
        ("vocabulary", f"{len(processor.tokenizer)} tokens, word-level"),
        ("caption length", f"at most {model.generation_config.max_length - 1} words by default"),
    ]


def _feature_rows(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    vision_model: str | None,
    streams: tuple[VideoStream, ...],
) -> list[tuple[str, str]]:
    """What the model reads, and how its features are made. Frame sampling and size are described only for a model
    that reads frames: a features-only model's processor never made its features, so its frame settings are defaults
    that say nothing about them."""
    config = model.config
    if config.vision_config is None:
        source = f"`{vision_model}`" if vision_model else "not recorded"
        shape = f"`(num_frames, {config.video_feature_size})`"
        rows = [
            ("input", f"precomputed frame features, `video_features` of shape {shape} per video"),
            ("features extracted by", source),
        ]
    else:
        training = "frozen" if config.freeze_vision_model else "trained with the captioner"
        origin = f", initialised from `{vision_model}`" if vision_model else ""
        pooling = POOLING_DESCRIPTIONS[config.vision_feature_pooling].format(grid=config.vision_feature_grid_size)
        rows = [
            *_frame_rows(processor.feature_extractor),
            ("input", "video files or frames (`pixel_values_videos`)"),
            ("vision backbone", f"{_backbone(config.vision_config)} inside the model, {training}{origin}"),
            ("pooling per frame", f"{pooling}: {config.video_feature_size} values"),
        ]
    for name in config.sub_configs_defaults:  # an architecture's own backbones, e.g. G2L's clip model
        if name != "vision_config" and getattr(config, name) is not None:
            label = name.removesuffix("_config").replace("_", " ")
            rows.append((f"{label} backbone", f"{_backbone(getattr(config, name))} inside the model"))
    for stream in model.video_streams():
        steps = "num_frames" if stream.frame_stride == 1 else f"ceil(num_frames / {stream.frame_stride})"
        shape = ", ".join(
            [steps, *([str(stream.num_regions)] if stream.num_regions else []), str(stream.feature_size)]
        )
        if stream in streams:
            rows.append(("also input", f"precomputed `{stream.name}` of shape `({shape})` per video"))
        else:
            rows.append(("also computed", f"`{stream.name}` of shape `({shape})` per video, from the frames"))
    if config.standardize_video_features:
        rows.append(("standardization", "per feature dimension, with training-set statistics saved in the weights"))
    return rows


def _frame_rows(extractor: VideoCaptioningFeatureExtractor) -> list[tuple[str, str]]:
    if extractor.fps is not None:
        frames = f"at {extractor.fps:g} frames per second" + (
            f", at most {extractor.num_frames}" if extractor.num_frames else ""
        )
    else:
        frames = f"{extractor.num_frames}, sampled uniformly over the video"
    size = f"{extractor.size['height']}x{extractor.size['width']}" if extractor.do_resize else "as decoded"
    return [("frames per video", frames), ("frame size", f"{size}, RGB, normalized per channel")]


def _backbone(config: PreTrainedConfig) -> str:
    return f"{type(config).__name__.removesuffix('Config')} (`{config.model_type}`)"


def _precomputed_streams(
    model: VideoCaptioningPreTrainedModel, processor: VideoCaptioningProcessor
) -> tuple[VideoStream, ...]:
    """The extra feature streams the model reads (`model.video_streams()`, e.g. G2L's clip features) that must be
    passed precomputed: all of them without a vision backbone; with one, those it cannot compute from the frames of a
    (blank) video the processor's size."""
    streams = model.video_streams()
    if model.config.vision_config is None or not streams:
        return streams
    extractor = processor.feature_extractor
    frames = torch.zeros(1, extractor.num_frames or 1, 3, extractor.size["height"], extractor.size["width"])
    mask = torch.ones(frames.shape[:2], dtype=torch.long)
    missing = []
    for stream in streams:
        try:
            with torch.inference_mode():
                model.encode_pixel_streams(frames.to(model.device, model.dtype), mask.to(model.device), [stream.name])
        except ValueError:
            missing.append(stream)
    return tuple(missing)


def _table(rows: list[tuple[str, str]], header: tuple[str, str] = ("", "")) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    return "\n".join(lines + [f"| {name} | {value} |" for name, value in rows])


__all__ = ["create_model_card", "load_metrics", "push_to_hub", "usage_snippet"]
