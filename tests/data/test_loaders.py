"""Tests of the dataset loaders (`hf_vidcap.data.load_msvd`, `load_msrvtt`, `load_video_folder`,
`load_captioning_dataset`) and of the command-line dataset arguments.

The fixtures under `fixtures/` are tiny hand-written files in each real format; the expected rows below are written
out by hand from them. The real MSVD captions are checked against counts taken from the files with plain Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import datasets
import pytest

from hf_vidcap.commands import InvalidInputError
from hf_vidcap.commands.dataset_args import add_dataset_arguments, dataset_from_args
from hf_vidcap.data import (
    InvalidAnnotationError,
    detect_dataset_format,
    load_captioning_dataset,
    load_msrvtt,
    load_msvd,
    load_video_folder,
)

from ..helpers import msvd_file


FIXTURES = Path(__file__).parent / "fixtures"
COLUMNS = {"video_id": datasets.Value("string"), "video_path": datasets.Value("string")}


def rows(dataset: datasets.DatasetDict) -> dict[str, list[tuple[str, list[str]]]]:
    """`{split: [(video_id, captions), ...]}`."""
    return {split: list(zip(dataset[split]["video_id"], dataset[split]["captions"])) for split in dataset}


def file_names(dataset: datasets.DatasetDict) -> dict[str, str]:
    """`{video_id: file name of its video path}` over all splits."""
    return {
        video_id: Path(path).name
        for split in dataset.values()
        for video_id, path in zip(split["video_id"], split["video_path"])
    }


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"")


def copy_fixture(name: str, tmp_path: Path, *files: str) -> Path:
    """A copy of fixture folder `name` in `tmp_path` (only `files` of it, if given)."""
    target = tmp_path / name
    target.mkdir()
    for file in files or [path.name for path in (FIXTURES / name).iterdir()]:
        shutil.copy(FIXTURES / name / file, target / file)
    return target


# ---------------------------------------------------------------------------------------------------------------------
# MSVD
# ---------------------------------------------------------------------------------------------------------------------

MSVD_SPLIT_FILE_ROWS = {
    "train": [
        (
            "vid1",
            ["a squirrel is eating a peanut in it s shell", "a chipmunk is eating", "a chipmunk is eating a peanut"],
        ),
        ("vid2", ["a man is playing a flute", "someone is playing a flute"]),
    ],
    "validation": [
        ("vid1201", ["a man is filling up a bag with meat", "a person pours marinade in a bag of chicken"])
    ],
    "test": [
        ("vid1301", ["a boy playing with dog", "a dog is giving a man a high five", "a man highfiving a small dog"]),
        ("vid1302", ["a woman is slicing an onion"]),
    ],
}
MSVD_CLIPS = {
    "vid1": "-4wsuPCjDBc_5_15.avi",
    "vid2": "-7KMZQEsJW4_205_208.avi",
    "vid1201": "bQJQGoJF7_k_162_169.avi",
    "vid1301": "eyhzdC936uk_15_27.avi",
    "vid1302": "f-24IxG9ijw_25_40.avi",
}


def test_msvd_split_files(caplog):
    with caplog.at_level(logging.WARNING):
        dataset = load_msvd(FIXTURES / "msvd")
    assert list(dataset) == ["train", "validation", "test"]
    assert dataset["train"].features == datasets.Features({**COLUMNS, "captions": datasets.List(COLUMNS["video_id"])})
    assert rows(dataset) == MSVD_SPLIT_FILE_ROWS
    assert file_names(dataset) == MSVD_CLIPS
    assert all(Path(path).is_absolute() for path in dataset["train"]["video_path"])
    assert "5 of 5 videos" in caplog.text and "-4wsuPCjDBc_5_15.avi" in caplog.text


def test_msvd_csv_keeps_english_captions_of_mapped_clips(caplog):
    with caplog.at_level(logging.WARNING):
        dataset = load_msvd(FIXTURES / "msvd", captions_source="csv")
    assert rows(dataset) == {
        "train": [
            ("vid1", ["A squirrel is eating a peanut in it's shell.", "A chipmunk, sitting up, is eating."]),
            ("vid2", ["A man is playing a flute."]),
        ],
        "validation": [("vid1201", ["Someone pours marinade into a bag of chicken."])],
        "test": [("vid1301", ["A dog is giving a man a high five.", "A man high-fives his dog."])],
    }
    # vid1302 has only a Spanish caption: left out, and said so.
    assert "1 of 5 videos of MSVD" in caplog.text and "have no caption, e.g. vid1302; they are left out" in caplog.text
    assert file_names(dataset) == {vid: name for vid, name in MSVD_CLIPS.items() if vid != "vid1302"}


def test_msvd_csv_description_with_unquoted_commas_is_kept_whole(tmp_path):
    folder = copy_fixture("msvd", tmp_path)
    with (folder / "MSR Video Description Corpus.csv").open("a", encoding="utf-8") as csv_file:
        csv_file.write("f-24IxG9ijw,25,40,1,clean,9,English,A woman, a knife and an onion.\n")
    dataset = load_msvd(folder, captions_source="csv")
    assert dict(rows(dataset)["test"])["vid1302"] == ["A woman, a knife and an onion."]


def test_msvd_all_video_descriptions():
    dataset = load_msvd(FIXTURES / "msvd", captions_source="descriptions")
    assert rows(dataset) == {
        "train": [
            ("vid1", ["A squirrel is eating a peanut in it's shell.", "A chipmunk is eating."]),
            ("vid2", ["A man plays a flute."]),
        ],
        "validation": [("vid1201", ["Someone is pouring liquid into a bag."])],
        "test": [("vid1301", ["A dog gives a man a high five."])],
    }


@pytest.mark.parametrize(
    "files, source",
    [
        (("youtube_mapping.txt", "MSR Video Description Corpus.csv", "AllVideoDescriptions.txt"), "csv"),
        (("youtube_mapping.txt", "AllVideoDescriptions.txt"), "descriptions"),
    ],
)
def test_msvd_auto_reads_the_captions_that_are_there(tmp_path, files, source):
    folder = copy_fixture("msvd", tmp_path, *files)
    assert rows(load_msvd(folder)) == rows(load_msvd(FIXTURES / "msvd", captions_source=source))


def test_msvd_finds_videos_in_youtube_clips_and_under_other_extensions(tmp_path, caplog):
    folder = copy_fixture("msvd", tmp_path)
    touch(folder / "YouTubeClips", "-4wsuPCjDBc_5_15.avi", "-7KMZQEsJW4_205_208.mp4", "bQJQGoJF7_k_162_169.avi")
    touch(folder / "YouTubeClips", "bQJQGoJF7_k_162_169.mp4", "eyhzdC936uk_15_27.avi", "f-24IxG9ijw_25_40.avi")
    with caplog.at_level(logging.WARNING):
        dataset = load_msvd(folder, missing_videos="error")
    assert not caplog.text
    paths = {vid: path for split in dataset.values() for vid, path in zip(split["video_id"], split["video_path"])}
    assert paths["vid2"] == str(folder / "YouTubeClips" / "-7KMZQEsJW4_205_208.mp4")  # converted clip
    assert paths["vid1201"] == str(folder / "YouTubeClips" / "bQJQGoJF7_k_162_169.avi")  # .avi preferred

    elsewhere = tmp_path / "clips"
    touch(elsewhere, *MSVD_CLIPS.values())
    dataset = load_msvd(folder, videos_dir=elsewhere, missing_videos="error")
    assert all(Path(path).parent == elsewhere for path in dataset["train"]["video_path"])


def test_line_breaks_inside_captions_are_kept(tmp_path):
    folder = copy_fixture("msvd", tmp_path)
    (folder / "sents_val_lc_nopunc.txt").write_text("vid1201\ta man\u2028fills a bag\r\n", encoding="utf-8")
    assert load_msvd(folder)["validation"]["captions"] == [["a man\u2028fills a bag"]]
    csv_text = (FIXTURES / "msvd" / "MSR Video Description Corpus.csv").read_text(encoding="utf-8")
    csv_text = csv_text.replace('"A chipmunk, sitting up, is eating."', '"A chipmunk,\nsitting up, is eating."')
    (folder / "MSR Video Description Corpus.csv").write_bytes(csv_text.replace("\n", "\r\n").encode())  # as Excel
    captions = load_msvd(folder, captions_source="csv")["train"]["captions"][0]
    assert captions == ["A squirrel is eating a peanut in it's shell.", "A chipmunk,\r\nsitting up, is eating."]


def test_msvd_real_captions():
    """The real MSVD captions: the standard split, every caption of every clip, counted from the files directly."""
    files = {"train": "sents_train_lc_nopunc.txt", "validation": "sents_val_lc_nopunc.txt"}
    files["test"] = "sents_test_lc_nopunc.txt"
    expected = {}
    for split, name in files.items():
        captions = defaultdict(list)
        for line in msvd_file(name).read_text(encoding="utf-8").splitlines():
            vid, caption = line.split("\t")
            captions[vid].append(caption)
        expected[split] = captions
    mapping = dict(line.split()[::-1] for line in msvd_file("youtube_mapping.txt").read_text().splitlines())

    dataset = load_msvd(msvd_file("youtube_mapping.txt").parent)

    assert {split: dataset[split].num_rows for split in dataset} == {"train": 1200, "validation": 100, "test": 670}
    line_counts = {name: len(msvd_file(name).read_text(encoding="utf-8").splitlines()) for name in files.values()}
    assert line_counts == {name: count for name, count in zip(files.values(), (48774, 4290, 27763))}
    for split, name in files.items():
        assert sum(map(len, dataset[split]["captions"])) == line_counts[name], split
        assert dict(zip(dataset[split]["video_id"], dataset[split]["captions"])) == expected[split], split
    assert dataset["train"]["video_id"][:3] == ["vid1", "vid2", "vid3"]
    assert dataset["test"]["video_id"][-1] == "vid1970"
    assert {vid: name[: -len(".avi")] for vid, name in file_names(dataset).items()} == mapping


# ---------------------------------------------------------------------------------------------------------------------
# MSR-VTT
# ---------------------------------------------------------------------------------------------------------------------


def test_msrvtt(tmp_path):
    folder = copy_fixture("msrvtt", tmp_path)
    touch(folder / "TrainValVideo", "video0.mp4", "video1.mp4", "video6513.mp4")
    touch(folder / "TestVideo", "video7010.mp4", "video7011.mp4")
    dataset = load_msrvtt(folder, missing_videos="error")
    assert rows(dataset) == {
        "train": [
            ("video0", ["a car is shown", "a red car drives on a track", "a race car is driven fast"]),
            ("video1", ["a person is explaining something", "a man talks about a video game"]),
        ],
        "validation": [("video6513", ["a group is dancing", "people dance on a stage"])],
        "test": [
            ("video7010", ["a woman is cooking in a kitchen", "a lady prepares food"]),
            ("video7011", ["a cartoon character is running"]),
        ],
    }
    assert dataset["validation"]["video_path"] == [str(folder / "TrainValVideo" / "video6513.mp4")]
    assert dataset["test"]["video_path"][0] == str(folder / "TestVideo" / "video7010.mp4")


def test_msrvtt_leaves_out_videos_without_captions(tmp_path, caplog):
    folder = copy_fixture("msrvtt", tmp_path)
    annotations = json.loads((folder / "test_videodatainfo.json").read_text())
    annotations["videos"].append({"video_id": "video7012", "split": "test"})
    (folder / "test_videodatainfo.json").write_text(json.dumps(annotations))
    with caplog.at_level(logging.WARNING):
        dataset = load_msrvtt(folder)
    assert dataset["test"]["video_id"] == ["video7010", "video7011"]
    assert "1 of 6 videos of MSR-VTT" in caplog.text and "have no caption, e.g. video7012" in caplog.text


# ---------------------------------------------------------------------------------------------------------------------
# A folder of videos with a captions file
# ---------------------------------------------------------------------------------------------------------------------


def test_video_folder_csv_with_splits(tmp_path):
    touch(tmp_path, "cooking/pasta.mp4", "dogs/fetch.avi", "street.mp4")
    dataset = load_video_folder(tmp_path, FIXTURES / "folder_csv" / "captions.csv", missing_videos="error")
    assert rows(dataset) == {
        "train": [("pasta", ["a man boils pasta, then drains it", "someone is cooking"])],
        "validation": [("fetch", ["a dog fetches a ball", "a dog runs across the grass"])],
        "test": [("street", ["cars drive down a busy street", "traffic moves slowly"])],
    }
    assert dataset["validation"]["video_path"] == [str(tmp_path / "dogs" / "fetch.avi")]


def test_video_folder_csv_header_names_are_matched_as_spreadsheets_write_them(tmp_path):
    touch(tmp_path, "pasta.mp4")
    (tmp_path / "captions.csv").write_text("Video, Caption ,Split\npasta.mp4,someone is cooking,train\n")
    assert rows(load_video_folder(tmp_path, tmp_path / "captions.csv")) == {
        "train": [("pasta", ["someone is cooking"])],
        "validation": [],
        "test": [],
    }


def test_video_folder_jsonl_with_file_name_captions_list_and_video_id(tmp_path):
    dataset = load_video_folder(tmp_path, FIXTURES / "folder_jsonl" / "metadata.jsonl", split_fractions=(1, 0, 0))
    assert rows(dataset)["train"] == [
        ("beach", ["waves roll onto a beach", "the sea at sunset"]),
        ("piano_lesson", ["a girl plays the piano", "someone practises piano"]),
        ("bike", ["a boy rides a bike"]),
    ]
    assert dataset["train"]["video_path"][1] == str(tmp_path / "clips" / "piano.mp4")


def test_video_folder_leaves_out_videos_without_a_caption(tmp_path, caplog):
    captions = tmp_path / "captions.csv"
    captions.write_text("video,caption\na.mp4,a cat sleeps\nb.mp4, \na.mp4,\n")
    with caplog.at_level(logging.WARNING):
        dataset = load_video_folder(tmp_path, captions, split_fractions=(1, 0, 0))
    assert rows(dataset)["train"] == [("a", ["a cat sleeps"])]
    assert "1 of 2 videos" in caplog.text and "have no caption, e.g. b;" in caplog.text


def test_synthetic_render_loads_as_a_video_folder(tiny_clips):
    root = Path(tiny_clips["train"][0]["video_path"]).parents[1]
    loaded = load_video_folder(root, root / "captions.jsonl", missing_videos="error")
    assert loaded["train"].features == tiny_clips["train"].features
    for split in ("train", "validation", "test"):
        assert loaded[split].to_list() == tiny_clips[split].to_list(), split
    assert detect_dataset_format(root) == "folder"
    assert load_captioning_dataset(root)["test"].to_list() == tiny_clips["test"].to_list()


def write_unsplit_captions(folder: Path, num_videos: int, reverse: bool = False) -> Path:
    """A captions CSV without a split column: `num_videos` videos with two captions each."""
    lines = [
        f"v{index:02d}.mp4,caption {caption} of video {index}" for index in range(num_videos) for caption in (1, 2)
    ]
    path = folder / ("reversed.csv" if reverse else "captions.csv")
    path.write_text("video,caption\n" + "\n".join(lines[::-1] if reverse else lines) + "\n")
    return path


def test_seeded_split_is_deterministic_disjoint_and_sized_by_the_fractions(tmp_path):
    def split_ids(dataset):
        return {split: sorted(dataset[split]["video_id"]) for split in dataset}

    captions = write_unsplit_captions(tmp_path, 20)
    dataset = load_video_folder(tmp_path, captions, split_fractions=(0.5, 0.25, 0.25), seed=3)
    ids = split_ids(dataset)
    assert {split: len(videos) for split, videos in ids.items()} == {"train": 10, "validation": 5, "test": 5}
    assert sorted(sum(ids.values(), [])) == [f"v{index:02d}" for index in range(20)]  # disjoint and complete
    for split in dataset.values():  # both captions of a video stay together
        for video_id, texts in zip(split["video_id"], split["captions"]):
            assert texts == [f"caption {n} of video {int(video_id[1:])}" for n in (1, 2)]
    again = load_video_folder(tmp_path, captions, split_fractions=(0.5, 0.25, 0.25), seed=3)
    shuffled_rows = load_video_folder(
        tmp_path, write_unsplit_captions(tmp_path, 20, reverse=True), split_fractions=(0.5, 0.25, 0.25), seed=3
    )
    assert split_ids(again) == ids and split_ids(shuffled_rows) == ids
    assert split_ids(load_video_folder(tmp_path, captions, split_fractions=(0.5, 0.25, 0.25), seed=4)) != ids

    default = load_video_folder(tmp_path, captions)
    assert {split: default[split].num_rows for split in default} == {"train": 16, "validation": 2, "test": 2}


def test_split_fractions_with_a_split_column_are_refused():
    with pytest.raises(ValueError, match="split_fractions.*assigns every video to a split"):
        load_video_folder(FIXTURES / "folder_csv", FIXTURES / "folder_csv" / "captions.csv", split_fractions=(1, 0, 0))


# ---------------------------------------------------------------------------------------------------------------------
# Missing videos
# ---------------------------------------------------------------------------------------------------------------------


def test_missing_videos_warn_keeps_rows_and_reports_count_and_examples(tmp_path, caplog):
    touch(tmp_path, "cooking/pasta.mp4")
    with caplog.at_level(logging.WARNING):
        dataset = load_video_folder(tmp_path, FIXTURES / "folder_csv" / "captions.csv")
    assert [dataset[split].num_rows for split in dataset] == [1, 1, 1]
    assert len(caplog.records) == 1 and caplog.records[0].levelname == "WARNING"
    message = caplog.records[0].getMessage()
    assert "2 of 3 videos" in message and str(tmp_path / "dogs" / "fetch.avi") in message


def test_missing_videos_drop_leaves_them_out(tmp_path, caplog):
    touch(tmp_path, "cooking/pasta.mp4")
    with caplog.at_level(logging.WARNING):
        dataset = load_video_folder(tmp_path, FIXTURES / "folder_csv" / "captions.csv", missing_videos="drop")
    assert [dataset[split]["video_id"] for split in dataset] == [["pasta"], [], []]
    assert dataset["test"].features == dataset["train"].features  # an empty split keeps its columns
    assert "2 of 3 videos" in caplog.text and "left out" in caplog.text


def test_missing_videos_error(tmp_path):
    folder = copy_fixture("msrvtt", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"5 of 5 videos .*video0\.mp4"):
        load_msrvtt(folder, missing_videos="error")
    with pytest.raises(ValueError, match="missing_videos"):
        load_msrvtt(folder, missing_videos="ignore")


# ---------------------------------------------------------------------------------------------------------------------
# Missing and malformed annotation files
# ---------------------------------------------------------------------------------------------------------------------


def replace_file(folder: Path, name: str, content: str | None) -> None:
    """Writes `content` into `folder/name`, or deletes the file for `None`."""
    if content is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    "fixture, name, content, load, expected",
    [
        ("msvd", "youtube_mapping.txt", None, load_msvd, "not found; expected lines '<youtube_id>"),
        ("msvd", "youtube_mapping.txt", "-4wsuPCjDBc_5_15\n", load_msvd, "line 1: expected lines"),
        ("msvd", "youtube_mapping.txt", "a_1_2 vid1\nb_1_2 vid1\n", load_msvd, "line 2: vid1 is mapped twice"),
        (
            "msvd",
            "youtube_mapping.txt",
            "a_1_2 vid1\nb_1_2 vid1971\n",
            load_msvd,
            "line 2: expected .* ids vid1..vid1970",
        ),
        ("msvd", "youtube_mapping.txt", "-4wsuPCjDBc_5_15 vid1\n", load_msvd, "no clip for vid2"),
        ("msvd", "sents_val_lc_nopunc.txt", None, load_msvd, "sents_val_lc_nopunc.txt: not found"),
        ("msvd", "sents_test_lc_nopunc.txt", "vid1301 no tab here\n", load_msvd, "line 1: expected lines 'vidN<TAB>"),
        (
            "msvd",
            "sents_test_lc_nopunc.txt",
            "vid1201\ta man fills a bag\n",  # vid1201 is in the validation file too
            load_msvd,
            "sents_test_lc_nopunc.txt: vid1201 is also in sents_val_lc_nopunc.txt; expected each clip in one split",
        ),
        (
            "msrvtt",
            "test_videodatainfo.json",
            None,
            load_msrvtt,
            "test_videodatainfo.json: not found; expected a JSON",
        ),
        ("msrvtt", "test_videodatainfo.json", "{", load_msrvtt, "not JSON"),
        ("msrvtt", "test_videodatainfo.json", "[]", load_msrvtt, "got list"),
        ("msrvtt", "test_videodatainfo.json", '{"videos": []}', load_msrvtt, r"got keys \['videos'\]"),
        (
            "msrvtt",
            "test_videodatainfo.json",
            '{"videos": [{"video_id": "video7010", "split": "holdout"}], "sentences": []}',
            load_msrvtt,
            r"videos\[0\]: unknown split 'holdout'",
        ),
        (
            "msrvtt",
            "test_videodatainfo.json",
            '{"videos": [{"video_id": "video0", "split": "test"}], "sentences": []}',
            load_msrvtt,
            "'video0' is listed twice",
        ),
        (
            "msrvtt",
            "test_videodatainfo.json",
            '{"videos": [], "sentences": [{"video_id": "video9", "caption": "x"}]}',
            load_msrvtt,
            r"sentences\[0\]: video 'video9' is not in the videos list",
        ),
        (
            "msrvtt",
            "test_videodatainfo.json",
            '{"videos": [], "sentences": [{"video_id": "video0", "caption": 3}]}',
            load_msrvtt,
            r"sentences\[0\]: expected an object with a string 'caption'",
        ),
    ],
)
def test_malformed_annotation_files(tmp_path, fixture, name, content, load, expected):
    folder = copy_fixture(fixture, tmp_path)
    replace_file(folder, name, content)
    with pytest.raises(InvalidAnnotationError, match=expected) as error:
        load(folder)
    assert str(folder / name) in str(error.value)
    assert isinstance(error.value, ValueError)


def test_annotation_file_that_is_not_utf8(tmp_path):
    folder = copy_fixture("msvd", tmp_path)
    (folder / "sents_train_lc_nopunc.txt").write_bytes(b"vid1\ta caf\xe9 owner\n")  # Latin-1
    with pytest.raises(InvalidAnnotationError, match="sents_train_lc_nopunc.txt: not UTF-8 text"):
        load_msvd(folder)


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("captions.csv", "", "empty; expected a CSV file with a header"),
        ("captions.csv", "video,caption\na.mp4,one,two\n", "line 2: expected the 2 fields of the header"),
        ("captions.csv", "video,caption\na.mp4\n", "line 2: expected the 2 fields of the header"),
        (
            "captions.csv",
            "path,caption\na.mp4,a caption\n",
            r"line 1: expected a CSV file with a header naming a 'video' .* got columns \['path', 'caption'\]",
        ),
        ("captions.csv", "video,text\na.mp4,a caption\n", r"line 1: .* got columns \['video', 'text'\]"),
        ("captions.csv", "video,caption,split\na.mp4,x,train\nb.mp4,y,holdout\n", "line 3: unknown split 'holdout'"),
        ("captions.csv", "video,caption,split\na.mp4,x,train\na.mp4,y,test\n", "line 3: .*a.mp4 has id 'a' and split"),
        ("captions.csv", "video,caption,split\na.mp4,x,train\nb.mp4,y,\n", "b.mp4 has no split but other videos do"),
        ("captions.csv", "video,caption\na/v.mp4,x\nb/v.mp4,y\n", "line 3: video id 'v' names both"),
        ("captions.csv", "video,caption\n", "no caption; expected one row per caption"),
        ("captions.jsonl", '{"video": "a.mp4", "caption": "x"}\n{"video": "b.mp4"', "line 2: not JSON"),
        ("captions.jsonl", '["a.mp4", "x"]\n', "line 1: expected one JSON object per line"),
        ("captions.jsonl", '{"video": "a.mp4", "captions": ["x", 2]}\n', "line 1: expected captions to be strings"),
        (
            "captions.jsonl",
            '{"video": "a.mp4", "caption": "x", "captions": ["y", "z"]}\n',
            "line 1: give a 'caption' or a 'captions' list, not both",
        ),
        ("captions.jsonl", '{"video": "a.mp4", "caption": "x", "split": 1}\n', "line 1: expected 'split' to be a str"),
        ("captions.txt", "a.mp4 x\n", "expected a captions file ending in .jsonl or .csv"),
    ],
)
def test_malformed_captions_file(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(InvalidAnnotationError, match=expected) as error:
        load_video_folder(tmp_path, tmp_path / name)
    assert str(tmp_path / name) in str(error.value)


def test_missing_captions_file_or_videos_dir(tmp_path):
    with pytest.raises(InvalidAnnotationError, match="captions.jsonl: not found; expected one JSON object per line"):
        load_video_folder(tmp_path, tmp_path / "captions.jsonl")
    with pytest.raises(FileNotFoundError, match="videos_dir .*nowhere: no such folder"):
        load_video_folder(tmp_path / "nowhere", FIXTURES / "folder_csv" / "captions.csv")
    with pytest.raises(FileNotFoundError, match="videos_dir .*nowhere: no such folder"):
        load_msvd(FIXTURES / "msvd", videos_dir=tmp_path / "nowhere")


# ---------------------------------------------------------------------------------------------------------------------
# One entry point: format detection and load_captioning_dataset
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture
def saved_dataset_dict(tmp_path) -> Path:
    dataset = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"video_id": ["a"], "x": [1.0]})})
    dataset.save_to_disk(tmp_path / "saved")
    return tmp_path / "saved"


def test_detect_dataset_format(saved_dataset_dict):
    assert detect_dataset_format(FIXTURES / "msvd") == "msvd"
    assert detect_dataset_format(FIXTURES / "msrvtt") == "msrvtt"
    assert detect_dataset_format(FIXTURES / "folder_csv") == "folder"
    assert detect_dataset_format(FIXTURES / "folder_jsonl") == "folder"
    assert detect_dataset_format(FIXTURES / "folder_csv" / "captions.csv") == "folder"
    assert detect_dataset_format(saved_dataset_dict) == "arrow"


def test_detect_dataset_format_says_what_it_looked_for(tmp_path):
    touch(tmp_path, "notes.txt", "a.mp4")
    with pytest.raises(ValueError) as error:
        detect_dataset_format(tmp_path)
    message = str(error.value)
    for looked_for in ("dataset_dict.json", "train_val_videodatainfo.json", "youtube_mapping.txt", ".jsonl or .csv"):
        assert looked_for in message
    assert "found a.mp4, notes.txt" in message
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        detect_dataset_format(tmp_path / "nowhere")


def test_load_captioning_dataset_dispatches_by_format(tmp_path, saved_dataset_dict):
    assert rows(load_captioning_dataset(FIXTURES / "msvd")) == MSVD_SPLIT_FILE_ROWS
    assert rows(load_captioning_dataset(FIXTURES / "msrvtt")) == rows(load_msrvtt(FIXTURES / "msrvtt"))
    folder = load_captioning_dataset(FIXTURES / "folder_csv")
    assert folder["train"]["video_path"] == [str(FIXTURES / "folder_csv" / "cooking" / "pasta.mp4")]
    # `videos_dir=None` means the default, as for the other loaders.
    assert rows(load_captioning_dataset(FIXTURES / "folder_csv", videos_dir=None)) == rows(folder)
    elsewhere = load_captioning_dataset(FIXTURES / "folder_csv" / "captions.csv", videos_dir=tmp_path)
    assert elsewhere["train"]["video_path"] == [str(tmp_path / "cooking" / "pasta.mp4")]
    saved = load_captioning_dataset(saved_dataset_dict)
    assert list(saved) == ["train"] and saved["train"].to_dict() == {"video_id": ["a"], "x": [1.0]}


def test_load_captioning_dataset_rejects_what_does_not_apply(tmp_path, saved_dataset_dict):
    with pytest.raises(ValueError, match="read as format 'arrow', which takes no 'videos_dir'"):
        load_captioning_dataset(saved_dataset_dict, videos_dir=tmp_path)
    with pytest.raises(ValueError, match="takes no 'seed'"):
        load_captioning_dataset(FIXTURES / "msvd", seed=1)
    with pytest.raises(ValueError, match="`format` must be one of"):
        load_captioning_dataset(FIXTURES / "msvd", format="coco")
    datasets.Dataset.from_dict({"a": [1]}).save_to_disk(tmp_path / "single")
    with pytest.raises(ValueError, match="holds a single datasets.Dataset; expected a DatasetDict"):
        load_captioning_dataset(tmp_path / "single", format="arrow")
    (tmp_path / "two").mkdir()
    for name in ("a.csv", "b.jsonl"):
        (tmp_path / "two" / name).write_text("")
    with pytest.raises(InvalidAnnotationError, match="found several: a.csv, b.jsonl"):
        load_captioning_dataset(tmp_path / "two")


# ---------------------------------------------------------------------------------------------------------------------
# Command-line arguments
# ---------------------------------------------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_dataset_arguments(parser)
    return parser.parse_args(argv)


def test_dataset_from_args(tmp_path):
    touch(tmp_path, *MSVD_CLIPS.values())
    dataset = dataset_from_args(parse("--dataset", str(FIXTURES / "msvd"), "--videos-dir", str(tmp_path)))
    assert rows(dataset) == MSVD_SPLIT_FILE_ROWS
    assert dataset["train"]["video_path"][0] == str(tmp_path / "-4wsuPCjDBc_5_15.avi")

    captions = write_unsplit_captions(tmp_path, 10)
    args = parse("--dataset", str(captions), "--split-fractions", "0.6", "0.2", "0.2", "--split-seed", "5")
    expected = load_video_folder(tmp_path, captions, split_fractions=(0.6, 0.2, 0.2), seed=5)
    assert rows(dataset_from_args(args)) == rows(expected)

    args = parse("--dataset", str(FIXTURES / "msrvtt"), "--dataset-format", "msrvtt", "--missing-videos", "drop")
    assert [dataset.num_rows for dataset in dataset_from_args(args).values()] == [0, 0, 0]


def test_dataset_from_args_errors(tmp_path):
    with pytest.raises(InvalidInputError, match="--split-seed does not apply to --dataset .*msvd"):
        dataset_from_args(parse("--dataset", str(FIXTURES / "msvd"), "--split-seed", "1"))
    with pytest.raises(SystemExit):
        parse("--dataset", str(FIXTURES / "msvd"), "--dataset-format", "coco")
    with pytest.raises(InvalidAnnotationError, match="no MSVD captions found; expected the split files"):
        dataset_from_args(parse("--dataset", str(tmp_path), "--dataset-format", "msvd"))


def test_split_counts_match_the_fixture_files():
    """The hand-written expectations above agree with the fixture files (a guard against editing one alone)."""
    counts = Counter()
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        counts[split] = len((FIXTURES / "msvd" / f"sents_{name}_lc_nopunc.txt").read_text().splitlines())
    assert counts == {split: sum(len(c) for _, c in videos) for split, videos in MSVD_SPLIT_FILE_ROWS.items()}
