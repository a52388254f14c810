"""Attention plots: the drawn matrix is the model's attention, the strip shows the frames the model saw, and
`hf-vidcap caption --attention-plot` writes a readable picture or fails with one line."""

import matplotlib.image
import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle
from transformers import ResNetConfig

from hf_vidcap import S2VTForVideoCaptioning, SALSTMForVideoCaptioning, load_video
from hf_vidcap.cli import main
from hf_vidcap.processing import VideoCaptioningFeatureExtractor, VideoCaptioningProcessor, video_io
from hf_vidcap.visualization import caption_with_attention, plot_attention


BACKBONE = ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")


def save_model(folder, model_class, tiny_clips, **sizes):
    captions = [c for cs in tiny_clips["train"]["captions"] for c in cs]
    processor = VideoCaptioningProcessor.from_captions(
        captions, feature_extractor=VideoCaptioningFeatureExtractor(num_frames=8, size={"height": 32, "width": 32})
    )
    torch.manual_seed(0)
    config = model_class.config_class(
        vocab_size=len(processor.tokenizer),
        initializer_range=0.5,
        max_caption_length=6,
        vision_config=BACKBONE,
        **sizes,
    )
    model = model_class(config).eval()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return model, processor


@pytest.fixture(scope="module")
def sa_lstm(tiny_clips, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sa_lstm")
    sizes = {"word_embedding_size": 8, "hidden_size": 16, "attention_size": 8}
    return (folder, *save_model(folder, SALSTMForVideoCaptioning, tiny_clips, **sizes))


def heatmap(plot):
    """The words x frames matrix as drawn in the figure (the second axes, under the frame strip)."""
    return np.asarray(plot.figure.axes[1].images[0].get_array())


# ---------------------------------------------------------------------------------------------- plot_attention


def test_plot_draws_the_frames_and_the_matrix_it_is_given():
    frames = np.random.default_rng(0).integers(0, 255, (5, 12, 16, 3), dtype=np.uint8)
    attention = torch.softmax(torch.randn(3, 5), dim=-1)
    plot = plot_attention(frames, ["a", "red", "circle"], attention, title="a red circle")
    np.testing.assert_array_equal(heatmap(plot), attention.numpy())
    np.testing.assert_array_equal(plot.temporal_attention, attention.numpy())
    strip = plot.figure.axes[0]
    np.testing.assert_array_equal(np.asarray(strip.images[0].get_array()), np.concatenate(list(frames), axis=1))
    assert strip.get_xlim() == plot.figure.axes[1].get_xlim() == (-0.5, 4.5)  # one column per frame, aligned
    assert [label.get_text() for label in plot.figure.axes[1].get_yticklabels()] == ["a", "red", "circle"]


@pytest.mark.parametrize("words", [3, 40])
def test_the_title_stays_inside_the_figure(words):
    frames = np.zeros((4, 12, 16, 3), dtype=np.uint8)
    caption = " ".join((["a", "red", "circle", "moves", "slowly"] * words)[:words])
    plot = plot_attention(frames, ["a", "red"], torch.full((2, 4), 0.25), title=caption)
    canvas = FigureCanvasAgg(plot.figure)
    canvas.draw()
    title = plot.figure.axes[0].title
    extent = title.get_window_extent(canvas.get_renderer())
    assert 0 <= extent.x0 and extent.x1 <= plot.figure.bbox.x1 and extent.y1 <= plot.figure.bbox.y1
    assert title.get_text().replace("\n", " ") == caption  # wrapped, not cut


def test_selected_frames_are_outlined_and_regions_drawn_over_them():
    frames = np.random.default_rng(1).random((6, 8, 8, 3))  # floating point frames in [0, 1] are accepted
    selected = np.array([[0, 4], [5, 1]])
    spatial = np.random.default_rng(2).random((2, 2, 3, 3))
    plot = plot_attention(
        frames, ["a", "b"], np.full((2, 6), 1 / 6), selected_frames=selected, spatial_attention=spatial
    )
    outlined = sorted(
        (round(patch.get_y() + 0.5), round(patch.get_x() + 0.5))
        for patch in plot.figure.axes[1].patches
        if isinstance(patch, Rectangle)
    )
    assert outlined == [(0, 0), (0, 4), (1, 1), (1, 5)]
    region_axes = plot.figure.axes[-4:]  # after the strip, the heatmap and the colour bar: row by row
    for axes, (row, k) in zip(region_axes, [(0, 0), (0, 1), (1, 0), (1, 1)]):
        np.testing.assert_array_equal(np.asarray(axes.images[1].get_array()), spatial[row, k])
        assert axes.images[1].get_clim() == (0, spatial.max())  # one scale: near-uniform maps do not look contrasted


def test_a_pick_of_no_frame_is_left_out():
    """G2L's draws beyond a short video's sampled frames select no frame (-1): no outline, no region map."""
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    selected = np.array([[1, -1]])
    plot = plot_attention(
        frames, ["a"], np.full((1, 3), 1 / 3), selected_frames=selected, spatial_attention=np.ones((1, 2, 2, 2)) / 4
    )
    outlined = [patch for patch in plot.figure.axes[1].patches if isinstance(patch, Rectangle)]
    assert [round(patch.get_x() + 0.5) for patch in outlined] == [1]
    assert [len(axes.images) for axes in plot.figure.axes[-2:]] == [2, 0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temporal_attention": np.ones((2, 4))}, r"temporal_attention.*\(2, 5\).*\(2, 4\)"),
        ({"words": ["only one"]}, r"temporal_attention.*\(1, 5\)"),
        ({"frames": np.zeros((5, 8, 8))}, r"frames.*\(num_frames, height, width, 3\)"),
        ({"selected_frames": np.array([[0], [7]])}, r"selected_frames.*outside \[0, 5\)"),
        ({"selected_frames": np.array([[0], [-2]])}, r"selected_frames.*outside \[0, 5\) .*or -1"),
        ({"spatial_attention": np.ones((2, 1, 2, 2))}, r"spatial_attention.*needs `selected_frames`"),
        ({"selected_frames": np.zeros((2, 1)), "spatial_attention": np.ones((2, 2, 2, 2))}, r"spatial_attention"),
    ],
)
def test_plot_rejects_inputs_that_do_not_agree(kwargs, message):
    arguments = {
        "frames": np.zeros((5, 8, 8, 3), np.uint8),
        "words": ["a", "b"],
        "temporal_attention": np.ones((2, 5)),
    }
    with pytest.raises(ValueError, match=message):
        plot_attention(**{**arguments, **kwargs})


# ---------------------------------------------------------------------------------------------- caption_with_attention


def test_caption_with_attention_gives_the_frames_and_weights_of_generation(sa_lstm, tiny_clips, monkeypatch):
    _, model, processor = sa_lstm
    video = tiny_clips["test"]["video_path"][0]
    decoded = []
    decode = video_io._decode_frames
    monkeypatch.setattr(
        video_io, "_decode_frames", lambda path, indices: decoded.append(path) or decode(path, indices)
    )
    result = caption_with_attention(model, processor, video, num_beams=1)
    monkeypatch.undo()
    assert decoded == [video]  # the strip and the model inputs come from one decoding
    frames, mask = load_video(video, num_frames=8)
    np.testing.assert_array_equal(result.frames, frames[mask.astype(bool)])

    inputs = processor(videos=[video], return_tensors="pt")
    out = model.generate(**inputs, num_beams=1, output_attentions=True, return_dict_in_generate=True)
    assert result.caption == processor.batch_decode(out.sequences)[0]
    assert " ".join(result.words) == result.caption
    steps = torch.cat(out.attentions, dim=1)[0]  # one row per generated token, <eos> last if generated
    assert result.temporal_attention.shape == (len(result.words), len(result.frames))
    torch.testing.assert_close(result.temporal_attention, steps[: len(result.words)])


def test_a_model_without_attention_is_refused(tiny_clips, tmp_path):
    model, processor = save_model(tmp_path, S2VTForVideoCaptioning, tiny_clips, hidden_size=16)
    with pytest.raises(ValueError, match=r"S2VTForVideoCaptioning.*does not attend over frames"):
        caption_with_attention(model, processor, tiny_clips["test"]["video_path"][0])
    with pytest.raises(ValueError, match=r"S2VTForVideoCaptioning.*does not attend over frames"):
        ends_at_once = {(model.config.eos_token_id,): 100.0}  # an empty caption, which said "no word to plot"
        caption_with_attention(model, processor, tiny_clips["test"]["video_path"][0], sequence_bias=ends_at_once)


# ---------------------------------------------------------------------------------------------- the command


def test_caption_command_saves_the_attention_plot(sa_lstm, tiny_clips, tmp_path, capsys):
    folder, model, processor = sa_lstm
    video = tiny_clips["test"]["video_path"][1]
    target = tmp_path / "attention.png"
    assert main(["caption", video, "--model", str(folder), "--num-beams", "2", "--attention-plot", str(target)]) == 0
    expected = processor.batch_decode(model.generate(**processor(videos=[video], return_tensors="pt"), num_beams=2))
    assert capsys.readouterr().out.strip() == expected[0]
    picture = matplotlib.image.imread(target)
    assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 400


@pytest.mark.parametrize(
    "videos, plot_name, message",
    [
        (2, "plot.png", "pass a single video, not 2"),
        (1, "exists.png", "exists and is not overwritten"),
        (1, "plot.docx", "unknown image format '.docx'"),
        (1, "missing/plot.png", "does not exist"),
    ],
)
def test_caption_command_refuses_a_plot_it_cannot_write(
    sa_lstm, tiny_clips, tmp_path, capsys, videos, plot_name, message
):
    folder, _, _ = sa_lstm
    (tmp_path / "exists.png").write_bytes(b"the user's picture")
    paths = tiny_clips["test"]["video_path"][:videos]
    assert main(["caption", *paths, "--model", str(folder), "--attention-plot", str(tmp_path / plot_name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hf-vidcap caption: error: --attention-plot") and message in err
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "exists.png").read_bytes() == b"the user's picture"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exists.png"]


def test_caption_command_names_a_model_that_does_not_attend(tiny_clips, tmp_path, capsys):
    save_model(tmp_path / "s2vt", S2VTForVideoCaptioning, tiny_clips, hidden_size=16)
    target = tmp_path / "plot.png"
    video = tiny_clips["test"]["video_path"][0]
    assert main(["caption", video, "--model", str(tmp_path / "s2vt"), "--attention-plot", str(target)]) == 2
    err = capsys.readouterr().err
    assert "does not attend over frames" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()
