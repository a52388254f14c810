"""Tests of the synthetic video renderer (`hf_vidcap.data.synthetic`).

Pixel facts (colour, shape, size, motion) are measured on DECODED video frames and compared with what the CAPTIONS
say, parsed with the word lists below (kept independent of the module's own word banks on purpose).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest

from hf_vidcap.data.synthetic import (
    ACTION_NAMES,
    SHAPE_NAMES,
    SYNTHETIC_CAPTIONS_NAME,
    SYNTHETIC_MANIFEST_NAME,
    SyntheticClipSpec,
    SyntheticVideoConfig,
    caption_vocabulary,
    render_clip,
    render_synthetic_dataset,
    sample_clip_specs,
    write_video,
)


# ---------------------------------------------------------------------------------------------------------------------
# Helpers: caption parsing and pixel measurements
# ---------------------------------------------------------------------------------------------------------------------

SHAPE_WORDS = {
    "circle": {"circle", "ball"},
    "square": {"square", "box"},
    "triangle": {"triangle"},
    "diamond": {"diamond"},
    "cross": {"cross"},
}
SIZE_WORDS = {"small": {"small", "little"}, "large": {"large", "big"}}
SPEED_WORDS = {"slow": {"slowly"}, "fast": {"quickly", "fast"}}
# Checked in this order: "shows up" (appear) contains "up", "grows smaller" (shrink) contains "grows".
ACTION_WORDS = {
    "disappear": {"disappears", "disappearing", "vanishes", "vanishing", "away", "out"},
    "appear": {"appears", "appearing", "shows", "showing", "pops", "popping", "comes", "coming"},
    "shrink": {"shrinks", "shrinking", "smaller", "contracts", "contracting"},
    "grow": {"grows", "growing", "bigger", "larger", "expands", "expanding"},
    "move_left": {"left", "leftward"},
    "move_right": {"right", "rightward"},
    "move_up": {"up", "upward", "rises", "rising"},
    "move_down": {"down", "downward", "falls", "falling"},
}


def parse_caption(caption: str, colours) -> dict:
    """The content a caption states: colour, shape, size, action and speed (None where it states none)."""
    words = caption.split()

    def find(table):
        found = {value for value, synonyms in table.items() if synonyms & set(words)}
        assert len(found) <= 1, f"{caption!r} states several of {sorted(found)}"
        return found.pop() if found else None

    colours_found = [w for w in words if w in colours]
    assert len(colours_found) == 1, f"{caption!r} should name exactly one colour"
    action = next((a for a, synonyms in ACTION_WORDS.items() if synonyms & set(words)), None)
    return {
        "colour": colours_found[0],
        "shape": find(SHAPE_WORDS),
        "size": find(SIZE_WORDS),
        "action": action,
        "speed": find(SPEED_WORDS),
    }


def decode(path) -> np.ndarray:
    with av.open(os.fspath(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def measure(frames: np.ndarray, background=(0, 0, 0)) -> dict:
    """Object mask statistics per frame, from pixels only: area, centroid, fill ratio of the bounding box, colour."""
    distance = np.abs(frames.astype(np.int32) - np.asarray(background)).max(-1)
    mask = distance > 0.5 * distance.max()
    area = mask.sum((1, 2))
    ys, xs = np.mgrid[: frames.shape[1], : frames.shape[2]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = (mask * xs).sum((1, 2)) / area
        cy = (mask * ys).sum((1, 2)) / area
    t = int(area.argmax())
    rows, cols = np.nonzero(mask[t])
    fill = area[t] / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1))
    colour = frames[mask].astype(np.float64).mean(0)
    return {"area": area, "cx": cx, "cy": cy, "fill": fill, "colour": colour}


# ---------------------------------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------------------------------

SPLITS = (16, 4, 4)  # 24 clips: every action 3 times


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("synthetic") / "render"
    dataset = render_synthetic_dataset(output_dir, split_sizes=SPLITS, seed=0)
    return output_dir, dataset


@pytest.fixture(scope="module")
def specs():
    return sample_clip_specs(sum(SPLITS), seed=0)


# ---------------------------------------------------------------------------------------------------------------------
# Sampling and captions
# ---------------------------------------------------------------------------------------------------------------------


def test_specs_are_deterministic_by_seed():
    a, b = sample_clip_specs(20, seed=3), sample_clip_specs(20, seed=3)
    assert a == b
    assert [s.captions for s in a] == [s.captions for s in b]
    c = sample_clip_specs(20, seed=4)
    assert [s.captions for s in a] != [s.captions for s in c]
    assert [(s.colour, s.shape, s.action) for s in a] != [(s.colour, s.shape, s.action) for s in c]


def test_spec_round_trips_through_dict():
    spec = sample_clip_specs(3, seed=1)[2]
    restored = SyntheticClipSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert restored == spec
    np.testing.assert_array_equal(render_clip(restored), render_clip(spec))


def test_attributes_are_balanced():
    config = SyntheticVideoConfig()
    specs = sample_clip_specs(96, seed=0, config=config)
    assert collections.Counter(s.colour for s in specs) == {c: 16 for c in config.colours}
    assert collections.Counter(s.shape for s in specs) == {s: 32 for s in config.shapes}
    assert collections.Counter(s.action for s in specs) == {a: 12 for a in ACTION_NAMES}
    sized = [s.size for s in specs if s.action not in ("grow", "shrink")]
    assert collections.Counter(sized) == {"small": 36, "large": 36}
    assert all(s.size is None for s in specs if s.action in ("grow", "shrink"))
    speeds = [s.speed for s in specs if s.action.startswith("move_")]
    assert collections.Counter(speeds) == {"slow": 24, "fast": 24}
    assert all(s.speed is None for s in specs if not s.action.startswith("move_"))


def test_captions_are_paraphrases_of_the_spec(specs):
    config = SyntheticVideoConfig()
    vocabulary = set(caption_vocabulary(config))
    for spec in sample_clip_specs(200, seed=5, config=config):
        assert len(spec.captions) == config.num_captions
        assert len(set(spec.captions)) == len(spec.captions), "paraphrases must differ in wording"
        for caption in spec.captions:
            assert caption == caption.strip().lower() and "  " not in caption
            assert set(caption.split()) <= vocabulary
            expected = {
                "colour": spec.colour,
                "shape": spec.shape,
                "size": spec.size,
                "action": spec.action,
                "speed": spec.speed,
            }
            assert parse_caption(caption, config.colours) == expected, caption


def test_vocabulary_is_small():
    vocabulary = caption_vocabulary()
    assert 40 <= len(vocabulary) < 80
    assert {"red", "circle", "triangle", "small", "large", "left", "grows", "appears", "slowly"} <= set(vocabulary)
    # Disabling attributes shrinks it.
    smaller = caption_vocabulary(SyntheticVideoConfig(speeds=(), actions=("grow", "shrink")))
    assert "slowly" not in smaller and "left" not in smaller and "small" not in smaller


def test_attribute_sets_are_configurable():
    config = SyntheticVideoConfig(
        colours={"cyan": (40, 205, 215), "orange": (245, 135, 25)},
        shapes=("diamond", "cross"),
        sizes=(),
        actions=("move_left", "appear"),
        speeds=(),
        num_captions=3,
    )
    specs = sample_clip_specs(8, seed=0, config=config)
    assert {s.colour for s in specs} == {"cyan", "orange"}
    assert {s.shape for s in specs} == {"diamond", "cross"}
    assert {s.action for s in specs} == {"move_left", "appear"}
    assert all(s.size is None and s.speed is None and len(s.captions) == 3 for s in specs)
    for spec in specs:
        for caption in spec.captions:
            assert spec.colour in caption.split() and spec.shape in caption.split()
            if spec.colour == "orange" and caption.startswith("a"):
                assert caption.split()[0] in ("an", "a") and "a orange" not in caption


@pytest.mark.parametrize(
    "kwargs",
    [
        {"height": 63},
        {"width": 8},
        {"num_frames": 2},
        {"shapes": ("hexagon",)},
        {"actions": ()},
        {"speeds": ("slow", "slow")},
        {"colours": {"red": (300, 0, 0)}},
        {"num_captions": 0},
    ],
)
def test_config_validation(kwargs):
    with pytest.raises(ValueError):
        SyntheticVideoConfig(**kwargs)


def test_blind_baseline_is_weak():
    """The most frequent training caption, given to every held-out clip, scores low CIDEr-D; a reference does not."""
    from pycocoevalcap.cider.cider import Cider

    scores, reference_scores = [], []
    for seed in range(5):
        specs = sample_clip_specs(400, seed=seed)  # the default render: 320 train, 40 validation, 40 test clips
        train, test = specs[:320], specs[360:]
        blind = collections.Counter(c for s in train for c in s.captions).most_common(1)[0][0]
        gts = {s.video_id: s.captions[1:] for s in test}
        scores.append(Cider().compute_score(gts, {s.video_id: [blind] for s in test})[0])
        # A model that gets the content right, here a held-out paraphrase, scores far higher.
        reference_scores.append(Cider().compute_score(gts, {s.video_id: [s.captions[0]] for s in test})[0])
    assert scores[0] < 0.3, scores
    assert np.mean(scores) < 0.3, scores
    assert min(reference_scores) > 2.0, reference_scores
    assert min(reference_scores) > 6 * max(scores)


# ---------------------------------------------------------------------------------------------------------------------
# Drawing and encoding
# ---------------------------------------------------------------------------------------------------------------------


def test_render_clip_frames(specs):
    for spec in specs[:8]:
        frames = render_clip(spec)
        assert frames.dtype == np.uint8 and frames.shape == (16, 64, 64, 3)
        assert (frames[:, 0, 0] == 0).all()  # corners are background
        np.testing.assert_array_equal(frames, render_clip(spec))


def test_all_shapes_have_equal_area():
    base = sample_clip_specs(1, seed=0)[0]
    areas = {}
    for shape in SHAPE_NAMES:
        spec = dataclasses.replace(
            base,
            shape=shape,
            action="grow",
            start_center=(32.0, 32.0),
            end_center=(32.0, 32.0),
            start_radius=12.0,
            end_radius=12.0,
            visible_from=0,
            visible_until=16,
        )
        frames = render_clip(spec)
        areas[shape] = (frames.max(-1) > 127).sum((1, 2))[0]
    for area in areas.values():  # pixel counts, so only up to the discretisation of the outline
        assert abs(area - np.pi * 144) < 0.1 * np.pi * 144, areas


def test_write_video_mpeg4(tmp_path):
    frames = render_clip(
        sample_clip_specs(1, seed=2, config=SyntheticVideoConfig(height=32, width=48, num_frames=6))[0]
    )
    path = tmp_path / "clip.mp4"
    write_video(frames, path, fps=5, codec="mpeg4")
    decoded = decode(path)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 8
    with pytest.raises(ValueError):
        write_video(frames[..., :2], tmp_path / "bad.mp4")


def test_files_are_real_videos(rendered, specs):
    output_dir, _ = rendered
    for spec in specs:
        path = output_dir / "videos" / f"{spec.video_id}.mp4"
        with av.open(os.fspath(path)) as container:
            assert "mp4" in container.format.name
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert float(stream.average_rate) == 8
        frames = decode(path)
        assert frames.shape == (16, 64, 64, 3)
        # Lossy, but close to what was drawn.
        assert np.abs(frames.astype(np.int32) - render_clip(spec)).mean() < 3


def test_colours_survive_encoding(rendered, specs):
    output_dir, _ = rendered
    palette = SyntheticVideoConfig().colours
    names = list(palette)
    rgb = np.array([palette[n] for n in names], dtype=np.float64)
    for spec in specs:
        colour = measure(decode(output_dir / "videos" / f"{spec.video_id}.mp4"))["colour"]
        nearest = names[int(np.linalg.norm(rgb - colour, axis=1).argmin())]
        for caption in spec.captions:
            assert parse_caption(caption, palette)["colour"] == nearest, (caption, colour)


def test_pixels_show_what_the_captions_say(rendered, specs):
    """Shape, size, motion and speed measured on decoded frames match every caption of the clip."""
    output_dir, _ = rendered
    palette = SyntheticVideoConfig().colours
    for spec in specs:
        m = measure(decode(output_dir / "videos" / f"{spec.video_id}.mp4"))
        area, cx, cy = m["area"], m["cx"], m["cy"]
        for caption in spec.captions:
            said = parse_caption(caption, palette)
            # Shape: fill ratio of the bounding box (triangle 0.5, circle 0.79, square 1).
            shape = "triangle" if m["fill"] < 0.67 else "circle" if m["fill"] < 0.9 else "square"
            assert said["shape"] == shape, (caption, m["fill"])
            if said["size"] is not None:  # small objects cover < 5% of the frame, large ones > 9%
                assert (area.max() / 64**2 > 0.066) == (said["size"] == "large"), (caption, area.max())
            action = said["action"]
            if action.startswith("move_"):
                assert (area > 0).all()
                dx, dy = np.diff(cx), np.diff(cy)
                along, across = (dx, dy) if action in ("move_left", "move_right") else (dy, dx)
                sign = -1 if action in ("move_left", "move_up") else 1
                assert (sign * along >= -0.5).all() and sign * along.sum() > 5, (caption, cx, cy)
                assert abs(across.sum()) < 1.5, (caption, cx, cy)
                travel = abs(along.sum()) / 64
                assert (travel > 0.27) == (said["speed"] == "fast"), (caption, travel)
            elif action == "grow":
                assert area[-1] > 3 * area[0] and (np.diff(area) >= -3).all(), (caption, area)
            elif action == "shrink":
                assert area[0] > 3 * area[-1] and (np.diff(area) <= 3).all(), (caption, area)
            elif action == "appear":
                assert area[0] == 0 and area[-1] > 0 and (np.diff((area > 0).astype(int)) >= 0).all(), (caption, area)
            elif action == "disappear":
                assert area[0] > 0 and area[-1] == 0 and (np.diff((area > 0).astype(int)) <= 0).all(), (caption, area)
            else:
                pytest.fail(f"no action in {caption!r}")


def test_render_is_deterministic(rendered, tmp_path):
    output_dir, _ = rendered
    again = render_synthetic_dataset(tmp_path / "again", split_sizes=SPLITS, seed=0)
    for row in again["train"].select(range(6)):
        ours = Path(row["video_path"])
        theirs = output_dir / "videos" / ours.name
        np.testing.assert_array_equal(decode(ours), decode(theirs))
        assert ours.read_bytes() == theirs.read_bytes()
    assert (tmp_path / "again" / SYNTHETIC_CAPTIONS_NAME).read_bytes() == (
        output_dir / SYNTHETIC_CAPTIONS_NAME
    ).read_bytes()

    other = render_synthetic_dataset(tmp_path / "other", split_sizes=(4, 0, 0), seed=1)
    assert other["train"]["captions"] != again["train"].select(range(4))["captions"]
    differs = [
        not np.array_equal(decode(row["video_path"]), decode(output_dir / "videos" / Path(row["video_path"]).name))
        for row in other["train"]
    ]
    assert any(differs)


# ---------------------------------------------------------------------------------------------------------------------
# Dataset, captions file, manifest
# ---------------------------------------------------------------------------------------------------------------------


def test_dataset_dict_splits_and_columns(rendered, specs):
    output_dir, dataset = rendered
    assert set(dataset) == {"train", "validation", "test"}
    assert [dataset[s].num_rows for s in ("train", "validation", "test")] == list(SPLITS)
    for split in dataset.values():
        assert split.column_names == ["video_id", "video_path", "captions"]
        assert split.features["video_id"].dtype == "string" and split.features["video_path"].dtype == "string"
    rows = [row for s in ("train", "validation", "test") for row in dataset[s]]
    assert [r["video_id"] for r in rows] == [s.video_id for s in specs]
    for row, spec in zip(rows, specs):
        assert os.path.isabs(row["video_path"]) and os.path.isfile(row["video_path"])
        assert row["video_path"] == os.fspath(output_dir.absolute() / "videos" / f"{spec.video_id}.mp4")
        assert row["captions"] == spec.captions


def test_captions_file(rendered):
    output_dir, dataset = rendered
    lines = [json.loads(line) for line in (output_dir / SYNTHETIC_CAPTIONS_NAME).read_text().splitlines()]
    assert len(lines) == sum(SPLITS) * 8
    assert all(set(line) == {"video", "caption", "split"} for line in lines)
    by_video = collections.defaultdict(list)
    for line in lines:
        assert (output_dir / line["video"]).is_file() and not os.path.isabs(line["video"])
        by_video[(line["video"], line["split"])].append(line["caption"])
    expected = {
        (f"videos/{row['video_id']}.mp4", split): row["captions"] for split in dataset for row in dataset[split]
    }
    assert dict(by_video) == expected


def test_split_fractions_and_sizes(tmp_path):
    tiny = {"height": 16, "width": 16, "num_frames": 4}
    dataset = render_synthetic_dataset(tmp_path / "a", num_clips=10, split_fractions=(0.6, 0.2, 0.2), **tiny)
    assert [dataset[s].num_rows for s in ("train", "validation", "test")] == [6, 2, 2]
    assert decode(dataset["test"][0]["video_path"]).shape == (4, 16, 16, 3)
    with pytest.raises(ValueError):
        render_synthetic_dataset(tmp_path / "b", num_clips=10, split_fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ValueError):
        render_synthetic_dataset(tmp_path / "c", num_clips=10, split_sizes=(5, 2, 2))
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_manifest_reuse(tmp_path):
    output_dir = tmp_path / "render"
    kwargs = {"split_sizes": (3, 1, 1), "seed": 7, "height": 32, "width": 32, "num_frames": 6}
    first = render_synthetic_dataset(output_dir, **kwargs)
    manifest = json.loads((output_dir / SYNTHETIC_MANIFEST_NAME).read_text())
    assert manifest["complete"] and manifest["params"]["seed"] == 7
    files = sorted(p for p in output_dir.rglob("*") if p.is_file())
    stamps = {p: p.stat().st_mtime_ns for p in files}

    second = render_synthetic_dataset(output_dir, **kwargs)  # reused: nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    assert sorted(p for p in output_dir.rglob("*") if p.is_file()) == files
    for split in first:
        assert first[split].to_dict() == second[split].to_dict()

    # A missing clip (e.g. an interrupted render) is rendered again, identically; nothing else is touched.
    missing = output_dir / "videos" / "clip_00002.mp4"
    content = missing.read_bytes()
    missing.unlink()
    render_synthetic_dataset(output_dir, **kwargs)
    assert missing.read_bytes() == content
    assert all(p.stat().st_mtime_ns == stamps[p] for p in files if p.suffix == ".mp4" and p != missing)

    # Other parameters: refused, and the render is left alone.
    with pytest.raises(FileExistsError, match="other parameters"):
        render_synthetic_dataset(output_dir, **{**kwargs, "seed": 8})
    with pytest.raises(FileExistsError):
        render_synthetic_dataset(output_dir, **{**kwargs, "num_frames": 8})
    assert json.loads((output_dir / SYNTHETIC_MANIFEST_NAME).read_text()) == manifest


def test_refuses_foreign_output_dir(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my notes")
    with pytest.raises(FileExistsError, match="not empty"):
        render_synthetic_dataset(foreign, num_clips=2)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert (foreign / "notes.txt").read_text() == "my notes"

    # A file named like our manifest that is not ours does not make the folder ours.
    (foreign / SYNTHETIC_MANIFEST_NAME).write_text('{"something": "else"}')
    with pytest.raises(FileExistsError):
        render_synthetic_dataset(foreign, num_clips=2)
    assert (foreign / SYNTHETIC_MANIFEST_NAME).read_text() == '{"something": "else"}'

    # An existing empty folder is fine.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        render_synthetic_dataset(empty, split_sizes=(1, 0, 1), height=16, width=16, num_frames=4)["test"].num_rows == 1
    )


def test_parallel_render_matches_serial(tmp_path):
    kwargs = {"split_sizes": (6, 0, 0), "seed": 2, "height": 32, "width": 32, "num_frames": 6}
    serial = render_synthetic_dataset(tmp_path / "serial", **kwargs)
    parallel = render_synthetic_dataset(tmp_path / "parallel", num_workers=2, **kwargs)
    for a, b in zip(serial["train"], parallel["train"]):
        assert Path(a["video_path"]).read_bytes() == Path(b["video_path"]).read_bytes()
