"""What the dataset loaders (MSVD, MSR-VTT, a folder of videos) share: the annotation error, reading annotation files,
split names, finding video files, and building the `datasets.DatasetDict` every loader returns.

Every loader returns splits `train`, `validation` and `test` with the columns of [`render_synthetic_dataset`]:
`video_id` (`str`), `video_path` (`str`, absolute) and `captions` (`list[str]`, every reference caption of the video).
A video file that is not on disk is reported, not fatal, unless the caller asks otherwise (`missing_videos`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import datasets
from transformers.utils import logging


logger = logging.get_logger(__name__)

#: What a loader does with rows whose video file is not on disk: log a warning and keep them, raise a
#: `FileNotFoundError`, or log a warning and leave them out.
MISSING_VIDEOS_OPTIONS: tuple[str, ...] = ("warn", "error", "drop")

#: The splits of every loader's `DatasetDict`, in order.
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")

#: File extensions recognised as videos when a loader looks a clip up by name.
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv")

#: The columns of every loader's splits (the same as [`render_synthetic_dataset`]'s).
CAPTIONING_FEATURES = datasets.Features(
    {
        "video_id": datasets.Value("string"),
        "video_path": datasets.Value("string"),
        "captions": datasets.List(datasets.Value("string")),
    }
)

# Split names found in annotation files (lower-cased), mapped to the split names of the returned DatasetDict.
_SPLIT_ALIASES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "validate": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}


class InvalidAnnotationError(ValueError):
    """
    Raised for an annotation file that is missing or cannot be read as its format expects (a missing column or key, a
    line that does not parse, an unknown split name, contradicting rows). The message names the file (and the line
    where it applies), what was expected and what was found.
    """


@dataclass
class CaptionedVideo:
    """One row of a loaded dataset: a video and all of its reference captions."""

    video_id: str
    video_path: str
    captions: list[str] = field(default_factory=list)


def check_missing_videos_option(missing_videos: str) -> None:
    """Raises a `ValueError` unless `missing_videos` is one of [`MISSING_VIDEOS_OPTIONS`]."""
    if missing_videos not in MISSING_VIDEOS_OPTIONS:
        raise ValueError(f"`missing_videos` must be one of {MISSING_VIDEOS_OPTIONS}, got {missing_videos!r}.")


def read_annotation_text(path: Path, expected: str) -> str:
    """The text of the annotation file `path` (UTF-8, a byte order mark is dropped).

    Args:
        path (`Path`): the file.
        expected (`str`): what the file should hold, for the error message, e.g. `"lines '<clip> vidN'"`.

    Raises:
        [`InvalidAnnotationError`]: the file is missing, is a folder, or is not UTF-8 text.
    """
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "not found"
        raise InvalidAnnotationError(f"{path}: {problem}; expected {expected}.")
    try:
        return path.read_bytes().decode("utf-8-sig")  # line endings as they are, for the readers below
    except UnicodeDecodeError as error:
        raise InvalidAnnotationError(f"{path}: not UTF-8 text (at byte {error.start}); expected {expected}.") from None


def read_annotation_lines(path: Path, expected: str) -> list[str]:
    """The lines of the annotation file `path` without their line endings (see [`read_annotation_text`]).

    Lines end at line feeds only (`\\n` or `\\r\\n`), not at the other characters `str.splitlines` breaks at, which a
    caption may hold.
    """
    return [line.removesuffix("\r") for line in read_annotation_text(path, expected).split("\n")]


def read_annotation_csv(path: Path, expected: str) -> csv.DictReader:
    """A `csv.DictReader` over the annotation file `path` (see [`read_annotation_text`]): the first row is the header,
    quoted fields may span lines, and `reader.line_num` is the line of the row read last."""
    return csv.DictReader(io.StringIO(read_annotation_text(path, expected), newline=""))


def canonical_split(name: object, where: str) -> str:
    """The DatasetDict split name (`train`, `validation` or `test`) for a split name found in an annotation file.

    Args:
        name (`object`): the split name as found, e.g. `"validate"` (MSR-VTT) or `"val"`.
        where (`str`): the file and line it was found at, for the error message.

    Raises:
        [`InvalidAnnotationError`]: an unknown split name.
    """
    split = _SPLIT_ALIASES.get(name.strip().lower()) if isinstance(name, str) else None
    if split is None:
        raise InvalidAnnotationError(
            f"{where}: unknown split {name!r}; expected train, validation (or validate, valid, val, dev) or test."
        )
    return split


def existing_folder(videos_dir: str | os.PathLike) -> Path:
    """`videos_dir` as an absolute path; raises a `FileNotFoundError` if it is not a folder (a mistyped path would
    otherwise only show as every video missing)."""
    folder = Path(videos_dir).absolute()
    if not folder.is_dir():
        raise FileNotFoundError(f"videos_dir {videos_dir}: no such folder.")
    return folder


def video_folders(root: Path, videos_dir: str | os.PathLike | None, default_subfolders: Sequence[str]) -> list[Path]:
    """The folders a corpus loader looks for video files in, in order.

    Args:
        root (`Path`): the folder holding the annotation files.
        videos_dir (`str` or `os.PathLike`, *optional*): the folder the user named; it is then the only one searched.
        default_subfolders (`Sequence[str]`): otherwise, the subfolders of `root` the corpus unpacks to (those that
            exist), followed by `root` itself.

    Raises:
        `FileNotFoundError`: `videos_dir` is given but is not a folder.
    """
    if videos_dir is not None:
        return [existing_folder(videos_dir)]
    root = root.absolute()
    return [root / name for name in default_subfolders if (root / name).is_dir()] + [root]


class VideoFinder:
    """Finds a clip's video file by its name (without extension) in a list of folders, listing each folder once.

    A clip `name` is found as `<name><extension>` in the first folder that has it, else as `<name>` with any other
    extension of [`VIDEO_EXTENSIONS`] (e.g. MSVD clips converted to .mp4). A clip found nowhere gets the path it would
    have in the first folder, which the dataset builder then reports as missing.

    Args:
        folders (`Sequence[Path]`): where to look, in order; folders that do not exist are skipped.
        extension (`str`): the corpus's own video extension, e.g. `".avi"`.
    """

    def __init__(self, folders: Sequence[Path], extension: str):
        self.folders = list(folders)
        self.extension = extension
        self._names: dict[Path, set[str]] = {}
        self._by_stem: dict[str, Path] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            names = sorted(os.listdir(folder))
            self._names[folder] = set(names)
            for name in names:
                stem, extension = os.path.splitext(name)
                if extension.lower() in VIDEO_EXTENSIONS:
                    self._by_stem.setdefault(stem, folder / name)

    def __call__(self, name: str) -> str:
        file_name = name + self.extension
        for folder, names in self._names.items():
            if file_name in names:
                return os.fspath(folder / file_name)
        return os.fspath(self._by_stem.get(name, self.folders[0] / file_name))


def build_captioning_dataset(
    splits: Mapping[str, Sequence[CaptionedVideo]],
    missing_videos: str,
    source: str,
    searched: Sequence[Path],
) -> datasets.DatasetDict:
    """The `DatasetDict` of a loader: rows without a caption are left out (with a warning), then the video files of
    the others are checked.

    Args:
        splits (`Mapping[str, Sequence[CaptionedVideo]]`): rows of each split (`train`, `validation`, `test`; a split
            that is not there is empty).
        missing_videos (`str`): one of [`MISSING_VIDEOS_OPTIONS`].
        source (`str`): the annotation file(s) the rows come from, for the messages.
        searched (`Sequence[Path]`): the folders the videos were looked for in, for the messages.

    Returns:
        `datasets.DatasetDict`: splits `train`, `validation` and `test` with [`CAPTIONING_FEATURES`].

    Raises:
        `FileNotFoundError`: some videos are missing and `missing_videos="error"`.
    """
    listed = [row for name in SPLIT_NAMES for row in splits.get(name, ())]
    uncaptioned = [row.video_id for row in listed if not row.captions]
    if uncaptioned:
        logger.warning(
            f"{len(uncaptioned)} of {len(listed)} videos of {source} have no caption, e.g. "
            f"{', '.join(uncaptioned[:3])}; they are left out."
        )
    splits = {name: [row for row in splits.get(name, ()) if row.captions] for name in SPLIT_NAMES}
    rows = [row for name in SPLIT_NAMES for row in splits[name]]
    missing = [row.video_path for row in rows if not os.path.isfile(row.video_path)]
    if missing:
        message = (
            f"{len(missing)} of {len(rows)} videos of {source} are not on disk (looked in "
            f"{', '.join(map(os.fspath, searched))}), e.g. {', '.join(missing[:3])}"
        )
        if missing_videos == "error":
            raise FileNotFoundError(f"{message}. Pass videos_dir (--videos-dir) with the folder that holds them.")
        if missing_videos == "drop":
            logger.warning(f"{message}; their rows are left out.")
        else:
            logger.warning(f"{message}; their rows are kept (missing_videos='drop' leaves them out).")
    dropped = set(missing) if missing_videos == "drop" else set()
    result = {}
    for name in SPLIT_NAMES:
        kept = [row for row in splits[name] if row.video_path not in dropped]
        result[name] = datasets.Dataset.from_dict(
            {
                "video_id": [row.video_id for row in kept],
                "video_path": [row.video_path for row in kept],
                "captions": [row.captions for row in kept],
            },
            features=CAPTIONING_FEATURES,
        )
    return datasets.DatasetDict(result)
