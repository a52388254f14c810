"""A user's own videos: a folder of video files and a captions file, as a `datasets.DatasetDict`.

The captions file is CSV (with a header) or JSON lines, one caption per row:

- `video` (or `file_name`, as in `datasets`' folder builders): the video file, relative to the videos folder or
  absolute;
- `caption`: one reference caption; in JSON lines `captions` (a list) may give several at once;
- `split` (optional): `train`, `validation` (or `validate`, `valid`, `val`, `dev`) or `test`; without it the videos are
  split at random from a seed, in the proportions asked for;
- `video_id` (optional): the id of the video; defaults to its file name without extension.

A video with several captions has several rows (or a `captions` list); a caption given twice is kept twice, as MSVD
keeps the identical captions of different annotators. A synthetic render
([`render_synthetic_dataset`]: `videos/` and `captions.jsonl`) is such a folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import datasets
import numpy as np

from .loader_utils import (
    SPLIT_NAMES,
    CaptionedVideo,
    InvalidAnnotationError,
    build_captioning_dataset,
    canonical_split,
    check_missing_videos_option,
    existing_folder,
    read_annotation_csv,
    read_annotation_lines,
)
from .synthetic import resolve_split_sizes


CAPTIONS_FILE_SUFFIXES: tuple[str, ...] = (".jsonl", ".csv")
DEFAULT_SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)

_VIDEO_KEYS = ("video", "file_name")


def load_video_folder(
    videos_dir: str | os.PathLike,
    captions_file: str | os.PathLike,
    split_fractions: Sequence[float] | None = None,
    seed: int = 0,
    missing_videos: str = "warn",
) -> datasets.DatasetDict:
    """Loads a folder of videos with a captions file (CSV or JSON lines) as a `DatasetDict`.

    Args:
        videos_dir (`str` or `os.PathLike`):
            The folder that the captions file's video paths are relative to.
        captions_file (`str` or `os.PathLike`):
            A `.csv` file with a header or a `.jsonl` file: one row per caption with the video file (`video` or
            `file_name`), the caption (`caption`; or in JSON lines a `captions` list), and optionally `split` and
            `video_id`.
        split_fractions (`Sequence[float]`, *optional*):
            For a file without a `split` column: the fractions of videos in train, validation and test, defaults to
            `(0.8, 0.1, 0.1)`. Videos (not captions) are split, so all captions of a video are in the same split.
            Not allowed with a file that has a `split` column.
        seed (`int`, *optional*, defaults to 0):
            Seed of that random split. The split depends only on the seed, the fractions and the set of videos, not on
            the order of the rows.
        missing_videos (`str`, *optional*, defaults to `"warn"`):
            What to do with videos whose file does not exist: `"warn"` keeps them and logs a warning with their number
            and a few examples, `"drop"` leaves them out (with the same warning), `"error"` raises a
            `FileNotFoundError`.

    Returns:
        `datasets.DatasetDict`: splits `train`, `validation` and `test`, one row per video in the order of the file:
        `video_id`, `video_path` (absolute) and `captions` (in file order).

    Raises:
        [`InvalidAnnotationError`]: the captions file is missing or malformed.
    """
    check_missing_videos_option(missing_videos)
    captions_file = Path(captions_file)
    videos_dir = existing_folder(videos_dir)
    if captions_file.suffix.lower() not in CAPTIONS_FILE_SUFFIXES:
        raise InvalidAnnotationError(
            f"{captions_file}: expected a captions file ending in {' or '.join(CAPTIONS_FILE_SUFFIXES)}."
        )

    videos: dict[str, CaptionedVideo] = {}  # by absolute path, in order of first appearance
    splits: dict[str, str | None] = {}
    ids: dict[str, str] = {}  # video id -> path
    for where, row in _read_rows(captions_file):
        name = next((row[key] for key in _VIDEO_KEYS if key in row), None)
        if not isinstance(name, str) or not name.strip():
            raise InvalidAnnotationError(
                f"{where}: expected the video file in {' or '.join(map(repr, _VIDEO_KEYS))}, got {row!r:.200}."
            )
        video_path = os.path.normpath(videos_dir / name.strip())
        video_id = _optional(row, "video_id", where) or Path(name.strip()).stem
        split = _optional(row, "split", where)
        split = canonical_split(split, where) if split else None
        if video_path not in videos:
            if ids.setdefault(video_id, video_path) != video_path:
                raise InvalidAnnotationError(
                    f"{where}: video id {video_id!r} names both {ids[video_id]} and {video_path}; expected one id per "
                    "video (add a 'video_id' column to tell them apart)."
                )
            videos[video_path] = CaptionedVideo(video_id, video_path)
            splits[video_path] = split
        video = videos[video_path]
        if (video_id, split) != (video.video_id, splits[video_path]):
            raise InvalidAnnotationError(
                f"{where}: {video_path} has id {video_id!r} and split {split!r} here, but {video.video_id!r} and "
                f"{splits[video_path]!r} on an earlier row; expected one id and one split per video."
            )
        video.captions.extend(_captions(row, where))

    if not videos:
        raise InvalidAnnotationError(f"{captions_file}: no caption; expected one row per caption.")
    unsplit = [path for path, split in splits.items() if split is None]
    if unsplit and len(unsplit) < len(videos):
        raise InvalidAnnotationError(
            f"{captions_file}: {unsplit[0]} has no split but other videos do; expected a split on every row or on none."
        )
    if unsplit:
        split_of_id = _seeded_split([video.video_id for video in videos.values()], split_fractions, seed)
        splits = {path: split_of_id[video.video_id] for path, video in videos.items()}
    elif split_fractions is not None:
        raise ValueError(
            f"`split_fractions` was given, but {captions_file} assigns every video to a split; leave it out, or remove "
            "the split column."
        )
    rows = {name: [video for path, video in videos.items() if splits[path] == name] for name in SPLIT_NAMES}
    return build_captioning_dataset(rows, missing_videos, os.fspath(captions_file), [videos_dir])


def _read_rows(path: Path) -> Iterator[tuple[str, dict]]:
    """The rows of a captions file as `(where, row)`, `where` naming the file and line for error messages."""
    if path.suffix.lower() == ".csv":
        expected = "a CSV file with a header naming a 'video' (or 'file_name') and a 'caption' column"
        reader = read_annotation_csv(path, expected)
        if not reader.fieldnames:
            raise InvalidAnnotationError(f"{path}: empty; expected {expected}.")
        reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]  # "Video, Caption" as well
        if "caption" not in reader.fieldnames or not {"video", "file_name"} & set(reader.fieldnames):
            raise InvalidAnnotationError(f"{path}, line 1: expected {expected}, got columns {reader.fieldnames}.")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if None in row or None in row.values():
                raise InvalidAnnotationError(f"{where}: expected the {len(reader.fieldnames)} fields of the header.")
            yield where, row
        return
    expected = 'one JSON object per line, e.g. {"video": "a.mp4", "caption": "a man is cooking"}'
    for number, line in enumerate(read_annotation_lines(path, expected), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidAnnotationError(f"{where}: not JSON ({error.msg}); expected {expected}.") from None
        if not isinstance(row, dict):
            raise InvalidAnnotationError(f"{where}: expected {expected}, got {line:.200}.")
        yield where, row


def _optional(row: dict, key: str, where: str) -> str | None:
    """The string `row[key]`, or `None` when the row has no such key or an empty value."""
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidAnnotationError(f"{where}: expected {key!r} to be a string, got {value!r:.200}.")
    if value is None or not value.strip():
        return None
    return value.strip()


def _captions(row: dict, where: str) -> list[str]:
    """The non-empty captions of a row: its `caption`, or its `captions` list."""
    if "caption" in row and isinstance(row.get("captions"), list):
        raise InvalidAnnotationError(f"{where}: give a 'caption' or a 'captions' list, not both, got {row!r:.200}.")
    if "caption" in row:
        captions = [row["caption"]]
    elif isinstance(row.get("captions"), list):
        captions = row["captions"]
    else:
        raise InvalidAnnotationError(
            f"{where}: expected a 'caption' (or in JSON lines a 'captions' list), got {row!r:.200}."
        )
    if not all(isinstance(caption, str) for caption in captions):
        raise InvalidAnnotationError(f"{where}: expected captions to be strings, got {captions!r:.200}.")
    return [caption.strip() for caption in captions if caption.strip()]


def _seeded_split(video_ids: list[str], split_fractions: Sequence[float] | None, seed: int) -> dict[str, str]:
    """Assigns videos to splits at random: exact sizes from the fractions, independent of the order of `video_ids`."""
    fractions = DEFAULT_SPLIT_FRACTIONS if split_fractions is None else split_fractions
    sizes = resolve_split_sizes(len(video_ids), None, fractions)
    names = [name for name, size in zip(SPLIT_NAMES, sizes) for _ in range(size)]
    shuffled = np.random.default_rng(seed).permutation(sorted(video_ids))
    return {str(video_id): name for video_id, name in zip(shuffled, names)}
