"""Attention you can see: which frames a captioner looked at for each word of its caption.

Two functions:

- [`caption_with_attention`] captions one video file with `generate()` and returns the frames the model saw (decoded
  again with the feature extractor's sampling settings, as RGB pictures rather than normalized tensors), the caption
  and its words, and each word's attention over those frames.
- [`plot_attention`] draws it: the frames in a strip, and under it one row per word with its attention over the
  frames (rows = words, columns = frames, aligned with the strip). Optional per-word data adds to the picture:
  `selected_frames` (frames a model picked for a word, e.g. G2L's key frames) are outlined in that word's row, and
  `spatial_attention` (a grid of weights over each selected frame's regions) is drawn over small copies of those
  frames to the right of the row.

```python
>>> from hf_vidcap.visualization import caption_with_attention, plot_attention
>>> result = caption_with_attention(model, processor, "clip.mp4", num_beams=5)
>>> plot = plot_attention(result.frames, result.words, result.temporal_attention, title=result.caption)
>>> plot.figure.savefig("attention.png")
```

From the shell: `hf-vidcap caption clip.mp4 --model DIR --attention-plot attention.png`.

The figures are built with matplotlib's object-oriented API (no `pyplot` global state, no display needed); matplotlib
is an optional dependency (`pip install "hf-vidcap[plot]"`).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .processing import load_video


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .modeling import VideoCaptioningConfig, VideoCaptioningPreTrainedModel
    from .processing import VideoCaptioningProcessor


# Layout of a plot, in inches: one column per frame, one row per word.
_COLUMN_WIDTH = 0.9
_ROW_HEIGHT = 0.3
_ROW_HEIGHT_WITH_REGIONS = 0.9
_WORD_LABEL_WIDTH = 1.3
_COLORBAR_WIDTH = 0.7
# The title's lines: their height, and how many characters fit an inch (matplotlib's default title size, 12 pt).
_TITLE_LINE_HEIGHT = 0.4
_TITLE_CHARACTERS_PER_INCH = 9


@dataclass
class VideoAttention:
    """What a captioner attended to while captioning one video.

    Args:
        video (`str`): the video file.
        frames (`np.ndarray` of shape `(num_frames, height, width, 3)`, `uint8`):
            The real frames the model saw, as decoded RGB pictures, in order.
        caption (`str`): the caption, as `processor.batch_decode` gives it.
        words (`list[str]`): the caption's words (tokens), one per generated word; `<eos>` is not included.
        temporal_attention (`torch.Tensor` of shape `(len(words), num_frames)`):
            Row `i` is the model's attention over the frames at the step that generated `words[i]`; each row sums to 1.
        selected_frames (`torch.Tensor` of shape `(len(words), k)`, *optional*):
            For models that pick frames (G2L's key frames), the frames picked at each word step.
        spatial_attention (`torch.Tensor` of shape `(len(words), k, grid_height, grid_width)`, *optional*):
            For models that attend over a grid of regions of the picked frames (G2L), those weights.
    """

    video: str
    frames: np.ndarray
    caption: str
    words: list[str]
    temporal_attention: torch.Tensor
    selected_frames: torch.Tensor | None = None
    spatial_attention: torch.Tensor | None = None

    def plot(self, title: str | None = None) -> AttentionPlot:
        """Draw it with [`plot_attention`]: the frames in a strip, each word's attention under them, and the picked
        frames and their region weights when the model has them."""
        return plot_attention(
            self.frames,
            self.words,
            self.temporal_attention,
            selected_frames=self.selected_frames,
            spatial_attention=self.spatial_attention,
            title=title,
        )


@dataclass
class AttentionPlot:
    """A drawn attention plot and exactly the data it shows.

    Args:
        figure (`matplotlib.figure.Figure`): the picture; save it with `figure.savefig(path)`.
        words (`list[str]`): the row labels, top to bottom.
        temporal_attention (`np.ndarray` of shape `(num_words, num_frames)`): the matrix drawn under the frames.
        selected_frames (`np.ndarray` of shape `(num_words, k)`, *optional*): the outlined frames of each row.
        spatial_attention (`np.ndarray` of shape `(num_words, k, grid_height, grid_width)`, *optional*):
            the region weights drawn over each row's selected frames.
    """

    figure: Figure
    words: list[str]
    temporal_attention: np.ndarray
    selected_frames: np.ndarray | None = None
    spatial_attention: np.ndarray | None = None


@torch.inference_mode()
def caption_with_attention(
    model: VideoCaptioningPreTrainedModel,
    processor: VideoCaptioningProcessor,
    video: str | os.PathLike,
    **generate_kwargs: Any,
) -> VideoAttention:
    """Caption one video file and return each word's attention over the frames the model saw.

    The caption comes from `model.generate(**inputs, **generate_kwargs)` (greedy, beam search, ...). Its attention
    weights come from one teacher-forced forward pass over the caption, which gives the very weights of the steps that
    generated it, whatever the search (for beam search, without following `beam_indices` through the per-step
    attentions of every beam).

    Args:
        model ([`VideoCaptioningPreTrainedModel`]): a captioner that attends over frames (its forward returns
            `attentions` with `output_attentions=True`), with a vision backbone to read pixels.
        processor ([`VideoCaptioningProcessor`]): the model's processor.
        video (`str` or `os.PathLike`): a video file.
        **generate_kwargs: passed to `generate()`, e.g. `num_beams=5`.

    Returns:
        [`VideoAttention`]

    Raises:
        `ValueError`: if the model does not attend over frames, or generates an empty caption.
        [`InvalidVideoError`]: if the video cannot be read.
    """
    feature_extractor = processor.feature_extractor
    frames, mask = load_video(video, num_frames=feature_extractor.num_frames, fps=feature_extractor.fps)
    frames = frames[mask.astype(bool)]
    inputs = processor(videos=[frames], do_sample_frames=False, return_tensors="pt")
    sequence = model.generate(**inputs, **generate_kwargs)[0]
    word_ids = _caption_word_ids(sequence.tolist(), model.config)
    # Input `<bos>, w_1, ..., w_{n-1}`: the step reading input i attends, then predicts word i + 1.
    input_ids = sequence[None, : max(len(word_ids), 1)]
    output = model(**inputs, input_ids=input_ids, output_attentions=True, use_cache=False)
    if output.attentions is None:  # (before the caption's length: a model that does not attend is the first problem)
        raise ValueError(
            f"{type(model).__name__} ({model.config.model_type}) does not attend over frames, so there is no "
            "attention to plot; use an attention model such as sa_lstm."
        )
    if not word_ids:
        raise ValueError(f"The model generated an empty caption for {os.fspath(video)!r}: there is no word to plot.")
    temporal, selected, spatial = model.attention_maps(output.attentions, inputs["video_attention_mask"])
    return VideoAttention(
        video=os.fspath(video),
        frames=frames,
        caption=processor.batch_decode(sequence[None], skip_special_tokens=True)[0],
        words=processor.tokenizer.convert_ids_to_tokens(word_ids),
        temporal_attention=temporal[0].float().cpu(),
        selected_frames=None if selected is None else selected[0].cpu(),
        spatial_attention=None if spatial is None else spatial[0].float().cpu(),
    )


def _caption_word_ids(ids: list[int], config: VideoCaptioningConfig) -> list[int]:
    """The generated words of one `generate()` row: after `<bos>`, up to the first `<eos>` or `<pad>`."""
    words = []
    for token in ids[1:]:
        if token in (config.eos_token_id, config.pad_token_id):
            break
        words.append(token)
    return words


def plot_attention(
    frames: np.ndarray | Sequence[np.ndarray],
    words: Sequence[str],
    temporal_attention: np.ndarray | torch.Tensor,
    *,
    selected_frames: np.ndarray | torch.Tensor | None = None,
    spatial_attention: np.ndarray | torch.Tensor | None = None,
    title: str | None = None,
) -> AttentionPlot:
    """Draw the frames in a strip and, under it, each word's attention over them.

    Columns are frames, aligned with the strip; rows are words, top to bottom. Darker cells carry more weight; every
    row shares one colour scale from 0 to the largest weight, shown by the colour bar.

    Args:
        frames (`np.ndarray` of shape `(num_frames, height, width, 3)`, or a sequence of `(height, width, 3)` arrays):
            RGB frames, `uint8` (or floating point in `[0, 1]`), e.g. [`VideoAttention.frames`].
        words (`Sequence[str]`): one label per row.
        temporal_attention (`np.ndarray` or `torch.Tensor` of shape `(len(words), num_frames)`):
            Attention of each word over the frames.
        selected_frames (`np.ndarray` or `torch.Tensor` of shape `(len(words), k)`, *optional*):
            Indices of frames picked for each word (e.g. G2L's key frames); their cells are outlined. -1 marks a pick
            of no frame (a G2L draw beyond a short video's sampled frames), which is left out.
        spatial_attention (`np.ndarray` or `torch.Tensor` of shape `(len(words), k, grid_height, grid_width)`, *optional*):
            For each word and each of its `selected_frames`, weights over a grid of regions of that frame; drawn over
            a copy of the frame to the right of the word's row, every map on one colour scale from 0 to the largest
            weight. Needs `selected_frames`.
        title (`str`, *optional*): a title above the strip (e.g. the caption).

    Returns:
        [`AttentionPlot`]: the figure and the arrays it shows.

    Raises:
        `ValueError`: if the shapes do not agree (the message names the argument), or `spatial_attention` comes
        without `selected_frames`.
        `ImportError`: if matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError as error:
        raise ImportError('plot_attention needs matplotlib: pip install "hf-vidcap[plot]"') from error

    frames = _as_frames(frames)
    words = list(words)
    num_frames, num_words = len(frames), len(words)
    temporal = _as_array(temporal_attention, "temporal_attention", (num_words, num_frames), "(len(words), num_frames)")
    selected = spatial = None
    if selected_frames is not None:
        selected = _as_array(selected_frames, "selected_frames", (num_words, None), "(len(words), k)").astype(int)
        if selected.size and (selected.min() < -1 or selected.max() >= num_frames):
            raise ValueError(
                f"`selected_frames` holds indices outside [0, {num_frames}) (there are {num_frames} frames), or -1."
            )
    if spatial_attention is not None:
        if selected is None:
            raise ValueError("`spatial_attention` needs `selected_frames`: the frames its regions belong to.")
        spatial = _as_array(
            spatial_attention,
            "spatial_attention",
            (num_words, selected.shape[1], None, None),
            "(len(words), k, grid_height, grid_width) with k from `selected_frames`",
        )
        spatial_max = max(float(spatial.max(initial=0.0)), 1e-12)

    height, width = frames.shape[1:3]
    row_height = _ROW_HEIGHT if spatial is None else _ROW_HEIGHT_WITH_REGIONS
    strip_height = _COLUMN_WIDTH * height / width
    region_columns = 0 if spatial is None else selected.shape[1]
    grid_width = num_frames + region_columns
    figure_width = _WORD_LABEL_WIDTH + grid_width * _COLUMN_WIDTH + _COLORBAR_WIDTH
    # A long caption is wrapped to the width of the figure, which grows a line's height for each line of it.
    title_lines = textwrap.wrap(title or "", width=max(int(figure_width * _TITLE_CHARACTERS_PER_INCH), 10))
    figure = Figure(
        figsize=(figure_width, strip_height + num_words * row_height + 0.4 + _TITLE_LINE_HEIGHT * len(title_lines)),
        layout="constrained",
    )
    grid = figure.add_gridspec(
        2,
        2 if spatial is not None else 1,
        height_ratios=[strip_height, max(num_words, 1) * row_height],
        width_ratios=[num_frames, region_columns] if spatial is not None else None,
    )
    strip_axes = figure.add_subplot(grid[0, 0])
    heatmap_axes = figure.add_subplot(grid[1, 0], sharex=strip_axes)

    strip_axes.imshow(np.concatenate(list(frames), axis=1), extent=(-0.5, num_frames - 0.5, height, 0), aspect="auto")
    strip_axes.set_yticks([])
    strip_axes.tick_params(labelbottom=False)
    if title_lines:
        strip_axes.set_title("\n".join(title_lines))

    image = heatmap_axes.imshow(temporal, cmap="Blues", vmin=0.0, vmax=max(float(temporal.max(initial=0.0)), 1e-12))
    heatmap_axes.set_aspect("auto")
    heatmap_axes.set_xticks(range(num_frames), [str(i) for i in range(num_frames)])
    heatmap_axes.set_yticks(range(num_words), words)
    heatmap_axes.set_xlabel("frame")
    figure.colorbar(image, ax=heatmap_axes, label="attention", fraction=0.04, pad=0.01)
    if selected is not None:
        for row, columns in enumerate(selected):
            for column in columns[columns >= 0]:  # -1: a draw that selected no frame
                heatmap_axes.add_patch(
                    Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="tab:red", linewidth=2)
                )
    if spatial is not None:
        regions = grid[1, 1].subgridspec(num_words, region_columns)
        for row in range(num_words):
            for k, column in enumerate(selected[row]):
                axes = figure.add_subplot(regions[row, k])
                axes.set_axis_off()
                if column < 0:
                    continue
                axes.imshow(frames[column])
                axes.imshow(
                    spatial[row, k],
                    cmap="magma",
                    vmin=0,
                    vmax=spatial_max,  # one scale for every map, as the heatmap has
                    alpha=0.5,
                    extent=(-0.5, width - 0.5, height - 0.5, -0.5),
                    interpolation="nearest",
                )
    return AttentionPlot(figure, words, temporal, selected, spatial)


def _as_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """`(num_frames, height, width, 3)` `uint8` frames from an array or a sequence of frames."""
    frames = np.stack([np.asarray(frame) for frame in frames]) if not isinstance(frames, np.ndarray) else frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"`frames` must have shape (num_frames, height, width, 3), got {tuple(frames.shape)}.")
    if np.issubdtype(frames.dtype, np.floating):
        frames = np.round(np.clip(frames, 0.0, 1.0) * 255).astype(np.uint8)
    return frames


def _as_array(value: np.ndarray | torch.Tensor, name: str, shape: tuple[int | None, ...], layout: str) -> np.ndarray:
    """`value` as a NumPy array, checked against `shape` (`None` matches any size)."""
    array = value.detach().float().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if array.ndim != len(shape) or any(size is not None and size != got for size, got in zip(shape, array.shape)):
        expected = ", ".join("any" if size is None else str(size) for size in shape)
        raise ValueError(f"`{name}` must have shape {layout}, here ({expected}), got {tuple(array.shape)}.")
    return array
