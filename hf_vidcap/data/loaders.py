"""One entry point for every dataset the library reads: [`load_captioning_dataset`] recognises what a path holds (MSVD,
MSR-VTT, a folder of videos with a captions file, or a `DatasetDict` saved to disk, e.g. extracted features) and calls
its loader.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

import datasets

from .features import SETTINGS_FILE
from .loader_utils import InvalidAnnotationError
from .msrvtt import MSRVTT_ANNOTATION_FILES, load_msrvtt
from .msvd import MSVD_CSV_FILE, MSVD_DESCRIPTIONS_FILE, MSVD_MAPPING_FILE, MSVD_SPLIT_FILES, load_msvd
from .video_folder import CAPTIONS_FILE_SUFFIXES, load_video_folder


#: The values of `format`: `"auto"` and the formats [`detect_dataset_format`] recognises.
DATASET_FORMATS: tuple[str, ...] = ("auto", "msvd", "msrvtt", "folder", "arrow")

_ARROW_FILE = "dataset_dict.json"  # written by `DatasetDict.save_to_disk`
_MSVD_FILES = (MSVD_MAPPING_FILE, *MSVD_SPLIT_FILES.values(), MSVD_CSV_FILE, MSVD_DESCRIPTIONS_FILE)
# Captions files a folder is recognised by, before falling back to its only .jsonl or .csv file.
_CAPTIONS_FILE_NAMES = ("captions.jsonl", "captions.csv", "metadata.jsonl", "metadata.csv")


def detect_dataset_format(path: str | os.PathLike) -> str:
    """The format of the dataset at `path`: `"arrow"`, `"msrvtt"`, `"msvd"` or `"folder"`.

    Recognised, in this order: a folder with `dataset_dict.json` (`"arrow"`, a `DatasetDict` saved with
    `save_to_disk`); with `train_val_videodatainfo.json` or `test_videodatainfo.json` (`"msrvtt"`); with
    `youtube_mapping.txt`, `sents_*_lc_nopunc.txt`, `MSR Video Description Corpus.csv` or `AllVideoDescriptions.txt`
    (`"msvd"`); with a captions `.jsonl` or `.csv` file, or such a file itself (`"folder"`).

    Raises:
        `FileNotFoundError`: `path` does not exist.
        `ValueError`: nothing there is recognised; the message lists what was looked for and what was found.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in CAPTIONS_FILE_SUFFIXES:
        return "folder"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder.")
    names = set(os.listdir(path)) if path.is_dir() else set()
    if _ARROW_FILE in names:
        return "arrow"
    if names.intersection(MSRVTT_ANNOTATION_FILES):
        return "msrvtt"
    if names.intersection(_MSVD_FILES):
        return "msvd"
    if path.is_dir() and _captions_files(path):
        return "folder"
    if SETTINGS_FILE in names:  # the settings come first, the dataset when every split is done
        raise ValueError(
            f"{path} is an unfinished `hf-vidcap extract-features` output (its {SETTINGS_FILE} is there, its "
            f"{_ARROW_FILE} is not yet): run the same extract-features command again to finish it."
        )
    if path.is_dir():
        found = ", ".join(sorted(names)[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    else:
        found = "a file"
    raise ValueError(
        f"{path}: cannot tell which dataset this is. Looked for a folder with {_ARROW_FILE} (arrow: a DatasetDict "
        f"saved with save_to_disk), {' or '.join(MSRVTT_ANNOTATION_FILES)} (msrvtt), {MSVD_MAPPING_FILE} with the "
        f"MSVD captions (msvd), or a captions {' or '.join(CAPTIONS_FILE_SUFFIXES)} file (folder); found "
        f"{found or 'nothing'}. Pass the format ({', '.join(DATASET_FORMATS[1:])}) "
        "to choose."
    )


def load_captioning_dataset(path: str | os.PathLike, format: str = "auto", **kwargs) -> datasets.DatasetDict:
    """Loads the video captioning dataset at `path`, whatever its format.

    Args:
        path (`str` or `os.PathLike`):
            An MSVD or MSR-VTT folder, a folder of videos with a captions file (or the captions file itself), or a
            folder written by `DatasetDict.save_to_disk`.
        format (`str`, *optional*, defaults to `"auto"`):
            One of [`DATASET_FORMATS`]: `"msvd"` ([`load_msvd`]), `"msrvtt"` ([`load_msrvtt`]), `"folder"`
            ([`load_video_folder`]), `"arrow"` (`datasets.load_from_disk`), or `"auto"` to recognise it
            ([`detect_dataset_format`]).
        kwargs:
            Arguments of the format's loader, e.g. `videos_dir`, `missing_videos`, `split_fractions`, `seed`. For
            `"folder"`, `videos_dir` defaults to the folder of the captions file.

    Returns:
        `datasets.DatasetDict`: for the annotation formats, splits `train`, `validation` and `test` with columns
        `video_id`, `video_path` and `captions`; for `"arrow"`, the saved splits and columns as they are.

    Raises:
        `ValueError`: an unknown format, or an argument the format's loader does not take.
        [`InvalidAnnotationError`]: an annotation file is missing or malformed.
    """
    if format not in DATASET_FORMATS:
        raise ValueError(f"`format` must be one of {DATASET_FORMATS}, got {format!r}.")
    if format == "auto":
        format = detect_dataset_format(path)
    unknown = sorted(set(kwargs) - set(dataset_loader_arguments(format)))
    if unknown:
        raise ValueError(
            f"{path} is read as format {format!r}, which takes no {', '.join(map(repr, unknown))} (it takes "
            f"{', '.join(map(repr, dataset_loader_arguments(format))) or 'no argument'})."
        )
    if format == "folder":
        path = Path(path)
        captions_file = path if path.is_file() else _folder_captions_file(path)
        if kwargs.get("videos_dir") is None:
            kwargs["videos_dir"] = captions_file.parent
        return load_video_folder(captions_file=captions_file, **kwargs)
    return _LOADERS[format](path, **kwargs)


def dataset_loader_arguments(format: str) -> tuple[str, ...]:
    """The keyword arguments [`load_captioning_dataset`] passes on to the loader of `format` (not `"auto"`)."""
    parameters = inspect.signature(_LOADERS[format]).parameters
    return tuple(name for name in parameters if name not in ("path", "captions_file"))


def _load_arrow(path: str | os.PathLike) -> datasets.DatasetDict:
    dataset = datasets.load_from_disk(os.fspath(path))
    if not isinstance(dataset, datasets.DatasetDict):
        raise ValueError(
            f"{path} holds a single datasets.Dataset; expected a DatasetDict of splits (train, validation, test), "
            "e.g. DatasetDict({'train': dataset}).save_to_disk(path)."
        )
    return dataset


_LOADERS: dict[str, Callable[..., datasets.DatasetDict]] = {
    "msvd": load_msvd,
    "msrvtt": load_msrvtt,
    "folder": load_video_folder,
    "arrow": _load_arrow,
}


def _captions_files(folder: Path) -> list[Path]:
    """The captions files of a folder: the first of the usual names that exists, else every .jsonl and .csv file."""
    for name in _CAPTIONS_FILE_NAMES:
        if (folder / name).is_file():
            return [folder / name]
    return sorted(folder / name for name in os.listdir(folder) if Path(name).suffix.lower() in CAPTIONS_FILE_SUFFIXES)


def _folder_captions_file(folder: Path) -> Path:
    """The one captions file of a folder of videos."""
    candidates = _captions_files(folder) if folder.is_dir() else []
    if len(candidates) != 1:
        problem = f"several: {', '.join(c.name for c in candidates)}" if candidates else "none"
        raise InvalidAnnotationError(
            f"{folder}: expected one captions file ({' or '.join(_CAPTIONS_FILE_NAMES)}, or a single .jsonl or .csv "
            f"file), found {problem}. Pass the captions file itself as the path."
        )
    return candidates[0]
