"""MSVD (the Microsoft Research Video Description corpus, Chen & Dolan 2011) as a `datasets.DatasetDict`.

The corpus is 1970 YouTube clips, each with about 40 English captions, in the standard split of 1200 / 100 / 670
clips: `vid1`..`vid1200` train, `vid1201`..`vid1300` validation, `vid1301`..`vid1970` test. Video files are named
after their YouTube clip (`<youtube_id>_<start>_<end>.avi`, in `YouTubeClips/` once the archive is unpacked), and
`youtube_mapping.txt` (lines `<youtube_id>_<start>_<end> vidN`) maps them to the `vidN` ids. The captions come in one
of three forms, all read here:

- the per-split files that most code bases distribute: `sents_{train,val,test}_lc_nopunc.txt`, lines `vidN<TAB>caption`
  (lower-cased, punctuation removed);
- the official CSV `MSR Video Description Corpus.csv` (columns VideoID, Start, End, WorkerID, Source, AnnotationTime,
  Language, Description; every language, of which only English is kept);
- `AllVideoDescriptions.txt`: `#` comment lines, then lines `<youtube_id>_<start>_<end> caption` (English).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

import datasets
from transformers.utils import logging

from .loader_utils import (
    CaptionedVideo,
    InvalidAnnotationError,
    VideoFinder,
    build_captioning_dataset,
    check_missing_videos_option,
    read_annotation_csv,
    read_annotation_lines,
    video_folders,
)


logger = logging.get_logger(__name__)

MSVD_MAPPING_FILE = "youtube_mapping.txt"
MSVD_SPLIT_FILES: dict[str, str] = {
    "train": "sents_train_lc_nopunc.txt",
    "validation": "sents_val_lc_nopunc.txt",
    "test": "sents_test_lc_nopunc.txt",
}
MSVD_CSV_FILE = "MSR Video Description Corpus.csv"
MSVD_DESCRIPTIONS_FILE = "AllVideoDescriptions.txt"
#: Where `load_msvd` reads captions from, in the order `captions_source="auto"` tries them.
MSVD_CAPTION_SOURCES: tuple[str, ...] = ("split_files", "csv", "descriptions")
#: The standard split: the first and last `vidN` number of each split.
MSVD_SPLIT_RANGES: dict[str, tuple[int, int]] = {"train": (1, 1200), "validation": (1201, 1300), "test": (1301, 1970)}

_CSV_COLUMNS = ("VideoID", "Start", "End", "Language", "Description")
_VID = re.compile(r"vid(\d+)")


def load_msvd(
    path: str | os.PathLike,
    videos_dir: str | os.PathLike | None = None,
    captions_source: str = "auto",
    missing_videos: str = "warn",
) -> datasets.DatasetDict:
    """Loads MSVD in its standard split (1200 / 100 / 670 clips) from the annotation files in `path`.

    Args:
        path (`str` or `os.PathLike`):
            The folder holding `youtube_mapping.txt` and the captions: the split files `sents_*_lc_nopunc.txt`,
            `MSR Video Description Corpus.csv` or `AllVideoDescriptions.txt`.
        videos_dir (`str` or `os.PathLike`, *optional*):
            The folder of the video files (`<youtube_id>_<start>_<end>.avi`, or another video extension). Defaults to
            looking in `path/YouTubeClips`, `path/videos` and `path`.
        captions_source (`str`, *optional*, defaults to `"auto"`):
            Which captions to read: `"split_files"`, `"csv"` (English rows only) or `"descriptions"`
            (`AllVideoDescriptions.txt`); `"auto"` takes the first of these that is in `path`.
        missing_videos (`str`, *optional*, defaults to `"warn"`):
            What to do with clips whose video file is not found: `"warn"` keeps them and logs a warning with their
            number and a few examples, `"drop"` leaves them out (with the same warning), `"error"` raises a
            `FileNotFoundError`.

    Returns:
        `datasets.DatasetDict`: splits `train`, `validation` and `test`, one row per clip with at least one caption,
        ordered by clip: `video_id` (`"vidN"`), `video_path` (absolute) and `captions` (in file order).

    Raises:
        [`InvalidAnnotationError`]: an annotation file is missing or malformed.
    """
    check_missing_videos_option(missing_videos)
    root = Path(path)
    if not root.is_dir():
        raise InvalidAnnotationError(f"{root}: not a folder; expected the MSVD folder holding {MSVD_MAPPING_FILE}.")
    source = _captions_source(root, captions_source)
    mapping_file = root / MSVD_MAPPING_FILE
    vid_to_clip = _read_mapping(mapping_file)

    if source == "split_files":
        source_name = ", ".join(MSVD_SPLIT_FILES.values())
        captions_by_split = {split: _read_split_file(root / name) for split, name in MSVD_SPLIT_FILES.items()}
        split_of: dict[str, str] = {}
        for split, captions in captions_by_split.items():
            for vid in captions:
                if (other := split_of.setdefault(vid, split)) != split:
                    raise InvalidAnnotationError(
                        f"{root / MSVD_SPLIT_FILES[split]}: {vid} is also in {MSVD_SPLIT_FILES[other]}; expected each "
                        "clip in one split file (a clip in two splits leaks between training and evaluation)."
                    )
            unmapped = [vid for vid in captions if vid not in vid_to_clip]
            if unmapped:
                raise InvalidAnnotationError(
                    f"{mapping_file}: no clip for {', '.join(unmapped[:3])} ({len(unmapped)} ids of "
                    f"{MSVD_SPLIT_FILES[split]} in all); expected a line '<youtube_id>_<start>_<end> vidN' for each."
                )
    else:
        source_name = MSVD_CSV_FILE if source == "csv" else MSVD_DESCRIPTIONS_FILE
        read = _read_csv if source == "csv" else _read_descriptions
        captions_by_split = _split_clip_captions(read(root / source_name), vid_to_clip, source_name)

    folders = video_folders(root, videos_dir, ("YouTubeClips", "videos"))
    find_video = VideoFinder(folders, ".avi")
    splits = {
        split: [CaptionedVideo(vid, find_video(vid_to_clip[vid]), captions) for vid, captions in by_vid.items()]
        for split, by_vid in captions_by_split.items()
    }
    return build_captioning_dataset(splits, missing_videos, f"MSVD in {root} ({source_name})", folders)


def _captions_source(root: Path, captions_source: str) -> str:
    """The captions source `load_msvd` reads: `captions_source`, or for `"auto"` the first one found in `root`."""
    if captions_source not in ("auto",) + MSVD_CAPTION_SOURCES:
        raise ValueError(
            f"`captions_source` must be 'auto' or one of {MSVD_CAPTION_SOURCES}, got {captions_source!r}."
        )
    if captions_source != "auto":
        return captions_source
    if any((root / name).is_file() for name in MSVD_SPLIT_FILES.values()):
        return "split_files"
    if (root / MSVD_CSV_FILE).is_file():
        return "csv"
    if (root / MSVD_DESCRIPTIONS_FILE).is_file():
        return "descriptions"
    raise InvalidAnnotationError(
        f"{root}: no MSVD captions found; expected the split files {', '.join(MSVD_SPLIT_FILES.values())}, "
        f"'{MSVD_CSV_FILE}' or {MSVD_DESCRIPTIONS_FILE}."
    )


def _vid_number(vid: str) -> int | None:
    match = _VID.fullmatch(vid)
    return int(match.group(1)) if match else None


def _standard_split(vid: str) -> str | None:
    """The split of clip `vid` ("vidN") in the standard split, or `None` if it is not a vid1..vid1970 id."""
    number = _vid_number(vid)
    for split, (first, last) in MSVD_SPLIT_RANGES.items():
        if number is not None and first <= number <= last:
            return split
    return None


def _read_mapping(path: Path) -> dict[str, str]:
    """`youtube_mapping.txt` as `{"vidN": "<youtube_id>_<start>_<end>"}`, in file order."""
    expected = "lines '<youtube_id>_<start>_<end> vidN' mapping MSVD clips to their ids vid1..vid1970"
    vid_to_clip: dict[str, str] = {}
    for number, line in enumerate(read_annotation_lines(path, expected), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or _standard_split(fields[1]) is None:
            raise InvalidAnnotationError(f"{path}, line {number}: expected {expected}, got {line!r}.")
        clip, vid = fields
        if vid in vid_to_clip:
            raise InvalidAnnotationError(f"{path}, line {number}: {vid} is mapped twice; expected each vidN once.")
        vid_to_clip[vid] = clip
    return vid_to_clip


def _read_split_file(path: Path) -> dict[str, list[str]]:
    """A split file `sents_*_lc_nopunc.txt` as `{"vidN": [caption, ...]}`, in file order."""
    expected = "lines 'vidN<TAB>caption'"
    captions: dict[str, list[str]] = defaultdict(list)
    for number, line in enumerate(read_annotation_lines(path, expected), start=1):
        if not line.strip():
            continue
        vid, tab, caption = line.partition("\t")
        if not tab or _vid_number(vid) is None:
            raise InvalidAnnotationError(f"{path}, line {number}: expected {expected}, got {line!r}.")
        if caption.strip():
            captions[vid].append(caption.strip())
    return dict(captions)


def _read_csv(path: Path) -> dict[str, list[str]]:
    """The English captions of `MSR Video Description Corpus.csv` as `{"<youtube_id>_<start>_<end>": [caption, ...]}`."""
    expected = f"a CSV file with a header naming the columns {', '.join(_CSV_COLUMNS)}"
    reader = read_annotation_csv(path, expected)
    missing = [column for column in _CSV_COLUMNS if column not in (reader.fieldnames or ())]
    if missing:
        raise InvalidAnnotationError(
            f"{path}: no column {', '.join(missing)}; expected {expected}, got columns {reader.fieldnames}."
        )
    captions: dict[str, list[str]] = defaultdict(list)
    for row in reader:
        if any(row[column] is None for column in _CSV_COLUMNS):
            raise InvalidAnnotationError(
                f"{path}, line {reader.line_num}: fewer fields than the header's {len(reader.fieldnames)}."
            )
        if extra := row.pop(None, None):  # more fields than the header: commas in an unquoted description
            if reader.fieldnames[-1] != "Description":
                raise InvalidAnnotationError(
                    f"{path}, line {reader.line_num}: more fields than the header's {len(reader.fieldnames)}."
                )
            row["Description"] = ",".join([row["Description"], *extra])
        if row["Language"].strip().lower() == "english" and row["Description"].strip():
            clip = f"{row['VideoID'].strip()}_{row['Start'].strip()}_{row['End'].strip()}"
            captions[clip].append(row["Description"].strip())
    return dict(captions)


def _read_descriptions(path: Path) -> dict[str, list[str]]:
    """`AllVideoDescriptions.txt` as `{"<youtube_id>_<start>_<end>": [caption, ...]}`."""
    expected = "'#' comment lines, then lines '<youtube_id>_<start>_<end> caption'"
    captions: dict[str, list[str]] = defaultdict(list)
    for line in read_annotation_lines(path, expected):
        clip, _, caption = line.strip().partition(" ")
        if clip and not clip.startswith("#") and caption.strip():
            captions[clip].append(caption.strip())
    if not captions:
        raise InvalidAnnotationError(f"{path}: no caption; expected {expected}.")
    return dict(captions)


def _split_clip_captions(
    clip_captions: dict[str, list[str]], vid_to_clip: dict[str, str], source_name: str
) -> dict[str, dict[str, list[str]]]:
    """Captions by clip name, turned into `{split: {"vidN": captions}}` through the mapping and the standard split
    (a clip of the mapping without a caption gets none)."""
    by_split: dict[str, dict[str, list[str]]] = {split: {} for split in MSVD_SPLIT_RANGES}
    for vid, clip in sorted(vid_to_clip.items(), key=lambda item: _vid_number(item[0])):
        by_split[_standard_split(vid)][vid] = clip_captions.get(clip, [])
    unmapped = len(set(clip_captions) - set(vid_to_clip.values()))
    if unmapped:
        logger.info(f"{unmapped} clips of {source_name} are not in {MSVD_MAPPING_FILE} (not in the standard split).")
    return by_split
