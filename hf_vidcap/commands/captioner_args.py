"""The command-line arguments that pick the captioner to train, shared by `hf-vidcap train` and the training examples.

Either `--model-type NAME` builds a new model of a registered architecture (sizes from `--config-overrides`, a
vocabulary from the training captions, the feature size from the dataset or from `--vision-model`), or `--model DIR`
fine-tunes a saved model with its own processor (its vocabulary grown with the new words of the training captions,
unless `--keep-vocabulary`).
"""

from __future__ import annotations

import argparse

from . import InvalidInputError


def add_captioner_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--model-type` / `--model` and the options of a new model to `parser`."""
    group = parser.add_argument_group("model")
    choice = group.add_mutually_exclusive_group(required=True)
    choice.add_argument("--model-type", help="architecture of a new model: s2vt, mean_pool, ... (any registered one)")
    choice.add_argument("--model", help="folder of a saved model and processor to fine-tune")
    group.add_argument(
        "--config-overrides",
        help='config fields of a new model, e.g. "hidden_size=512,dropout=0.3,standardize_video_features=true"',
    )
    group.add_argument(
        "--vision-model",
        help="folder (or Hub id) of a transformers vision model that becomes the new model's frame encoder, "
        "so that it reads videos (needed to train on video files; optional on features it extracted)",
    )
    group.add_argument(
        "--num-frames", type=int, help="frames sampled per video by a new processor (default: the extraction's, or 16)"
    )
    group.add_argument(
        "--frame-size",
        type=int,
        help="side of the square frames of a new processor (default: the extraction's, or 112)",
    )
    group.add_argument(
        "--min-word-count",
        type=int,
        help="words seen fewer times in training map to <unk>: in a new vocabulary, or added to a saved one (1)",
    )
    group.add_argument("--max-vocab-size", type=int, help="largest vocabulary, special tokens included")
    group.add_argument(
        "--keep-vocabulary",
        action="store_true",
        help="with --model: keep the saved vocabulary, reading new words of the training captions as <unk> (by "
        "default they are added, and the model's word embeddings grow)",
    )


def captioner_from_args(args: argparse.Namespace, train_dataset) -> tuple:
    """The model and processor the arguments ask for (see [`~hf_vidcap.training.load_or_build_captioner`]).

    A new model trained on features written by `hf-vidcap extract-features` gets the backbone and frame preprocessing
    recorded with them, so that it also captions video files.
    """
    from ..training import features_info_of, frame_preprocessing, load_or_build_captioner

    new_model_options = {
        "--config-overrides": args.config_overrides,
        "--vision-model": args.vision_model,
        "--num-frames": args.num_frames,
        "--frame-size": args.frame_size,
        "--max-vocab-size": args.max_vocab_size,
    }
    if args.model is not None and any(new_model_options.values()):
        given = ", ".join(name for name, value in new_model_options.items() if value)
        raise InvalidInputError(
            f"{given} shape a new model and processor (--model-type), not the saved ones in --model {args.model}."
        )
    if args.model is None and args.keep_vocabulary:
        raise InvalidInputError("--keep-vocabulary keeps the vocabulary of a saved model: it needs --model.")
    features_info = features_info_of(args.dataset)
    return load_or_build_captioner(
        train_dataset,
        model_type=args.model_type,
        model_name_or_path=args.model,
        config_overrides=args.config_overrides,
        vision_model=args.vision_model,
        feature_extractor=frame_preprocessing(args.num_frames, args.frame_size, features_info),
        min_word_count=1 if args.min_word_count is None else args.min_word_count,
        max_vocab_size=args.max_vocab_size,
        features_info=features_info,
        extend_vocabulary=not args.keep_vocabulary,
    )
