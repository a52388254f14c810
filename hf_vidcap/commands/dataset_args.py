"""The command-line arguments that name a dataset, shared by `hf-vidcap extract-features`, `train` and `evaluate`.

`--dataset PATH` is an MSVD or MSR-VTT folder, a folder of videos with a captions file (or that file), or a
`DatasetDict` saved with `save_to_disk` (e.g. extracted features); the files there tell which, or `--dataset-format`
says it. The other options are passed to the loader of that format (see `hf_vidcap.data.load_captioning_dataset`).
"""

from __future__ import annotations

import argparse

from ..data.loader_utils import MISSING_VIDEOS_OPTIONS
from ..data.loaders import DATASET_FORMATS
from . import InvalidInputError


# The options passed on to the loader: (flag, argparse dest, loader keyword argument). An option left out is not
# passed, so that the loader's default applies and a format that does not take it is not bothered.
_LOADER_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--videos-dir", "videos_dir", "videos_dir"),
    ("--missing-videos", "missing_videos", "missing_videos"),
    ("--split-fractions", "split_fractions", "split_fractions"),
    ("--split-seed", "split_seed", "seed"),
)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--dataset` (required), `--dataset-format` and the loader options to `parser`, in a "dataset" group.

    Args:
        parser (`argparse.ArgumentParser`): the command's parser.
    """
    group = parser.add_argument_group("dataset")
    group.add_argument(
        "--dataset",
        required=True,
        metavar="PATH",
        help="an MSVD or MSR-VTT folder, a folder of videos with a captions .jsonl/.csv file (or that file), or a "
        "DatasetDict saved with save_to_disk (e.g. extracted features)",
    )
    group.add_argument(
        "--dataset-format",
        choices=DATASET_FORMATS,
        default="auto",
        help="what --dataset holds (default: auto, recognised from its files)",
    )
    group.add_argument(
        "--videos-dir",
        metavar="DIR",
        help="folder of the video files when they are not beside the annotations (msvd, msrvtt, folder)",
    )
    group.add_argument(
        "--missing-videos",
        choices=MISSING_VIDEOS_OPTIONS,
        help="rows whose video file is not found: warn and keep them (default), drop them, or stop with an error",
    )
    group.add_argument(
        "--split-fractions",
        nargs=3,
        type=float,
        metavar=("TRAIN", "VALIDATION", "TEST"),
        help="fractions of videos per split, for a captions file without a split column (default: 0.8 0.1 0.1)",
    )
    group.add_argument(
        "--split-seed",
        type=int,
        metavar="N",
        help="seed of that split, for a captions file without a split column (default: 0)",
    )


def dataset_from_args(args: argparse.Namespace):
    """The `datasets.DatasetDict` that `--dataset` and the other dataset arguments name.

    Raises:
        [`InvalidInputError`]: an option that the dataset's format does not take.
        [`~hf_vidcap.data.InvalidAnnotationError`]: an annotation file is missing or malformed.
    """
    from ..data.loaders import dataset_loader_arguments, detect_dataset_format, load_captioning_dataset

    format = args.dataset_format if args.dataset_format != "auto" else detect_dataset_format(args.dataset)
    accepted = dataset_loader_arguments(format)
    kwargs = {}
    for flag, dest, keyword in _LOADER_OPTIONS:
        value = getattr(args, dest)
        if value is None:
            continue
        if keyword not in accepted:
            raise InvalidInputError(f"{flag} does not apply to --dataset {args.dataset} (format {format}).")
        kwargs[keyword] = value
    return load_captioning_dataset(args.dataset, format=format, **kwargs)
