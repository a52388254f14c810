"""`hf-vidcap extract-features --dataset PATH --output DIR (--vision-model PATH | --vision-config FILE) [...]`.

Extracts frame features of every video of a dataset with a frozen transformers vision model into a `DatasetDict`
saved in `--output` (see `hf_vidcap.data.extract_video_features_to_disk`): run the same command again to resume an
interrupted run; give each process `--num-shards N --shard-index I` (or start it with `torchrun` / `accelerate
launch`) to share the work, then, for `--num-shards`, run once more without them to combine the shards.

For G2L, add the 3-D clip features of a transformers video model (`--clip-vision-model PATH` or
`--clip-vision-config FILE`) and the region features of a grid over the frame backbone's spatial map
(`--region-grid-size N`); `hf-vidcap train --model-type g2l` on the output builds a G2L that computes the same
streams from video files.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from . import InvalidInputError, positive_int
from .dataset_args import add_dataset_arguments, dataset_from_args


def extract_features_command(args: argparse.Namespace) -> None:
    """Extract the features and print where they are, with the counts of extracted and skipped videos."""
    import torch
    from datasets import DatasetDict

    from ..data.features import (
        CLIP_FEATURES_COLUMN,
        REGION_FEATURES_COLUMN,
        SKIPPED_VIDEOS_FILE,
        extract_video_features_to_disk,
        load_clip_encoder,
        load_frame_encoder,
    )
    from ..processing import VideoCaptioningFeatureExtractor

    dataset = dataset_from_args(args)
    if args.split:
        unknown = sorted(set(args.split) - set(dataset))
        if unknown:
            raise InvalidInputError(f"--split {' '.join(unknown)}: the dataset has splits {', '.join(dataset)}.")
        dataset = DatasetDict({name: dataset[name] for name in args.split})
    clip_backbone = _vision_config(args.clip_vision_config, "--clip-vision-config") or args.clip_vision_model
    if args.clip_num_frames is not None and clip_backbone is None:
        raise InvalidInputError("--clip-num-frames needs a clip model (--clip-vision-model or --clip-vision-config).")
    device = args.device or _default_device()
    torch.manual_seed(args.seed)  # the weights of random --*-config backbones: equal in every shard and rerun
    encoder = load_frame_encoder(
        _vision_config(args.vision_config, "--vision-config") or args.vision_model,
        pooling=args.pooling,
        grid_size=args.grid_size,
    ).to(device)
    clip_encoder = None
    if clip_backbone is not None:
        clip_encoder = load_clip_encoder(clip_backbone, clip_num_frames=args.clip_num_frames).to(device)
    feature_extractor = VideoCaptioningFeatureExtractor(num_frames=args.num_frames, fps=args.fps, size=args.frame_size)
    result = extract_video_features_to_disk(
        dataset,
        args.output,
        encoder,
        feature_extractor,
        batch_size=args.batch_size,
        chunk_size=args.chunk_size,
        dtype=args.dtype,
        num_shards=args.num_shards,
        shard_index=args.shard_index,
        clip_encoder=clip_encoder,
        region_grid_size=args.region_grid_size,
        region_frame_stride=args.region_frame_stride,
    )
    if result is None:
        print(
            f"Shard {args.shard_index} of {args.num_shards} done in {args.output}. When every shard is done, run the "
            "same command without --num-shards/--shard-index to combine them."
        )
        return
    skipped = Path(args.output, SKIPPED_VIDEOS_FILE).read_text().count("\n")
    counts = ", ".join(f"{name} {len(split)}" for name, split in result.items())
    columns = next(iter(result.values())).features
    streams = [name for name in (CLIP_FEATURES_COLUMN, REGION_FEATURES_COLUMN) if name in columns]
    also = f"; also {', '.join(streams)}" if streams else ""
    print(f"Features of {counts} videos ({encoder.output_size} values per frame, {args.dtype}{also}) in {args.output}")
    if skipped:
        print(f"{skipped} unreadable videos were skipped; see {Path(args.output, SKIPPED_VIDEOS_FILE)}")


def _vision_config(path: str | None, option: str):
    """A transformers config from the JSON file `path` with its `model_type` (e.g. a tiny ResNet for tests), or
    `None` without a path."""
    from transformers import AutoConfig

    if path is None:
        return None
    try:
        return AutoConfig.for_model(**json.loads(Path(path).read_text()))
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise InvalidInputError(
            f"{option} {path}: expected a JSON file of a transformers config with its model_type, e.g. "
            f'{{"model_type": "resnet", "hidden_sizes": [16, 32], "depths": [1, 1]}} ({_first_sentence(error)}).'
        ) from None


def _first_sentence(error: Exception) -> str:
    """The start of an error message, without the list of every transformers model type that some errors append."""
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return message.split(". ")[0]


def _device(value: str) -> str:
    """An `argparse` type: a torch device this machine has (`cpu`, `cuda`, `cuda:1`, `mps`, ...)."""
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a torch device (cpu, cuda, cuda:N, mps, ...)") from None
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise argparse.ArgumentTypeError(f"{value!r}: this machine has {torch.cuda.device_count()} CUDA devices")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{value!r}: MPS is not available on this machine")
    return value


def _default_device() -> str:
    """This process's GPU if there is one (`LOCAL_RANK` under torchrun / accelerate launch), else the CPU."""
    import torch

    return f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if torch.cuda.is_available() else "cpu"


def register(commands: argparse._SubParsersAction) -> None:
    extract = commands.add_parser(
        "extract-features",
        help="extract frame features of a dataset's videos into Arrow (resumable, sharded)",
        description=__doc__.split("\n\n", 1)[1],
    )
    add_dataset_arguments(extract)
    extract.add_argument("--output", required=True, help="output folder: new, empty, or this extraction's to resume")
    extract.add_argument("--split", nargs="+", help="the splits to extract (default: all)")
    backbone = extract.add_argument_group("frame encoder").add_mutually_exclusive_group(required=True)
    backbone.add_argument("--vision-model", help="folder (or Hub id) of a pretrained transformers vision model")
    backbone.add_argument(
        "--vision-config", help="JSON file of a transformers vision config, for a randomly initialised backbone"
    )
    extract.add_argument("--pooling", choices=("mean", "cls", "pooler", "grid"), default="mean", help="frame pooling")
    extract.add_argument(
        "--grid-size", type=positive_int, default=1, help="side of the spatial grid kept by --pooling grid (2 or more)"
    )
    streams = extract.add_argument_group(
        "clip and region features (the extra streams of G2L)",
        "Also write clip_features (one per frame, from a video model over a window around it) and region_features "
        "(a grid of the frame backbone's spatial map, on one frame in every --region-frame-stride).",
    )
    clip_backbone = streams.add_mutually_exclusive_group()
    clip_backbone.add_argument(
        "--clip-vision-model",
        metavar="PATH",
        help="folder (or Hub id) of a pretrained transformers video model (VideoMAE, ...)",
    )
    clip_backbone.add_argument(
        "--clip-vision-config",
        metavar="FILE",
        help="JSON file of a transformers video config, for a randomly initialised model",
    )
    streams.add_argument(
        "--clip-num-frames",
        type=positive_int,
        metavar="N",
        help="frames per clip window (default: the video model's num_frames)",
    )
    streams.add_argument(
        "--region-grid-size",
        type=positive_int,
        metavar="N",
        help="write region_features: the cells of an N x N grid, N*N regions a frame",
    )
    streams.add_argument(
        "--region-frame-stride",
        type=positive_int,
        default=3,
        metavar="N",
        help="regions of the middle frame of every N (default: 3)",
    )
    extract.add_argument(
        "--num-frames", type=positive_int, default=16, help="frames sampled per video (the most, with --fps)"
    )
    extract.add_argument("--fps", type=float, help="take frames at this rate instead of uniformly")
    extract.add_argument(
        "--frame-size", type=positive_int, default=112, help="side of the square frames fed to the backbone"
    )
    extract.add_argument("--dtype", choices=("float32", "float16"), default="float32", help="storage dtype")
    extract.add_argument("--batch-size", type=positive_int, default=8, help="videos decoded and encoded at once")
    extract.add_argument(
        "--chunk-size", type=positive_int, default=512, help="videos per chunk (the unit of resuming)"
    )
    extract.add_argument("--num-shards", type=positive_int, help="number of processes sharing the work")
    extract.add_argument("--shard-index", type=int, help="this process's share, 0 to --num-shards - 1")
    extract.add_argument(
        "--device", type=_device, help="device of the backbone (default: this process's GPU if any, else cpu)"
    )
    extract.add_argument("--seed", type=int, default=0, help="seed of a random --vision-config backbone")
    extract.set_defaults(handler=extract_features_command)
