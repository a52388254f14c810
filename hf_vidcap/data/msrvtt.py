"""MSR-VTT (Xu et al., CVPR 2016) as a `datasets.DatasetDict`.

The corpus is 10,000 web clips (`video0`..`video9999`) with 20 English captions each, in the standard split of
6513 / 497 / 2990 clips. Its official annotation files are `train_val_videodatainfo.json` (train and validation clips)
and `test_videodatainfo.json` (test clips), each a JSON object with

- `videos`: a list of `{"video_id": "video0", "split": "train" | "validate" | "test", ...}`;
- `sentences`: a list of `{"video_id": "video0", "caption": "...", ...}`.

Video files are `videoN.mp4`, in `TrainValVideo/` and `TestVideo/` once the archives are unpacked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets

from .loader_utils import (
    CaptionedVideo,
    InvalidAnnotationError,
    VideoFinder,
    build_captioning_dataset,
    canonical_split,
    check_missing_videos_option,
    read_annotation_text,
    video_folders,
)


MSRVTT_ANNOTATION_FILES: tuple[str, ...] = ("train_val_videodatainfo.json", "test_videodatainfo.json")

_EXPECTED = (
    'a JSON object with "videos" (a list of {"video_id", "split"}) and "sentences" (a list of {"video_id", "caption"})'
)


def load_msrvtt(
    path: str | os.PathLike,
    videos_dir: str | os.PathLike | None = None,
    missing_videos: str = "warn",
) -> datasets.DatasetDict:
    """Loads MSR-VTT in its standard split (6513 / 497 / 2990 clips) from its official annotation files in `path`.

    Args:
        path (`str` or `os.PathLike`):
            The folder holding `train_val_videodatainfo.json` and `test_videodatainfo.json`.
        videos_dir (`str` or `os.PathLike`, *optional*):
            The folder of the video files (`videoN.mp4`, or another video extension). Defaults to looking in
            `path/TrainValVideo`, `path/TestVideo`, `path/videos` and `path`.
        missing_videos (`str`, *optional*, defaults to `"warn"`):
            What to do with clips whose video file is not found: `"warn"` keeps them and logs a warning with their
            number and a few examples, `"drop"` leaves them out (with the same warning), `"error"` raises a
            `FileNotFoundError`.

    Returns:
        `datasets.DatasetDict`: splits `train`, `validation` (the files' `validate`) and `test`, one row per clip with
        at least one caption, in the files' order: `video_id` (`"videoN"`), `video_path` (absolute) and `captions`
        (in file order).

    Raises:
        [`InvalidAnnotationError`]: an annotation file is missing or malformed.
    """
    check_missing_videos_option(missing_videos)
    root = Path(path)
    if not root.is_dir():
        raise InvalidAnnotationError(
            f"{root}: not a folder; expected the MSR-VTT folder holding {' and '.join(MSRVTT_ANNOTATION_FILES)}."
        )
    annotations = [(root / name, _read_annotation_file(root / name)) for name in MSRVTT_ANNOTATION_FILES]

    split_of: dict[str, str] = {}
    captions: dict[str, list[str]] = {}
    for file, (videos, _) in annotations:
        for index, video in enumerate(videos):
            where = f"{file}, videos[{index}]"
            video_id = _field(video, "video_id", where)
            if video_id in split_of:
                raise InvalidAnnotationError(f"{where}: {video_id!r} is listed twice; expected each video once.")
            split_of[video_id] = canonical_split(_field(video, "split", where), where)
            captions[video_id] = []
    for file, (_, sentences) in annotations:
        for index, sentence in enumerate(sentences):
            where = f"{file}, sentences[{index}]"
            video_id = _field(sentence, "video_id", where)
            if video_id not in captions:
                raise InvalidAnnotationError(f"{where}: video {video_id!r} is not in the videos list of either file.")
            caption = _field(sentence, "caption", where).strip()
            if caption:
                captions[video_id].append(caption)

    folders = video_folders(root, videos_dir, ("TrainValVideo", "TestVideo", "videos"))
    find_video = VideoFinder(folders, ".mp4")
    splits: dict[str, list[CaptionedVideo]] = {"train": [], "validation": [], "test": []}
    for video_id, texts in captions.items():
        splits[split_of[video_id]].append(CaptionedVideo(video_id, find_video(video_id), texts))
    source = f"MSR-VTT ({' and '.join(os.fspath(file) for file, _ in annotations)})"
    return build_captioning_dataset(splits, missing_videos, source, folders)


def _read_annotation_file(path: Path) -> tuple[list, list]:
    """The `videos` and `sentences` lists of an MSR-VTT annotation file."""
    try:
        data = json.loads(read_annotation_text(path, _EXPECTED))
    except json.JSONDecodeError as error:
        raise InvalidAnnotationError(f"{path}: not JSON ({error}); expected {_EXPECTED}.") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list) for key in ("videos", "sentences")):
        found = f"keys {sorted(data)}" if isinstance(data, dict) else type(data).__name__
        raise InvalidAnnotationError(f"{path}: expected {_EXPECTED}, got {found}.")
    return data["videos"], data["sentences"]


def _field(entry: object, key: str, where: str) -> str:
    """The string `entry[key]` of a `videos` or `sentences` entry."""
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, str):
        raise InvalidAnnotationError(f"{where}: expected an object with a string {key!r}, got {entry!r:.200}.")
    return value
