"""`hf-vidcap caption VIDEO [VIDEO ...] --model DIR [--num-beams N] [--batch-size B] [--attention-plot PATH]`.

Prints one caption per video. With `--attention-plot PATH` (one video, a model that attends over frames such as
sa_lstm), the picture of each word's attention over the sampled frames is also saved to PATH, a new file whose
extension names the format (png, pdf, svg, ...).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import TYPE_CHECKING

from . import InvalidInputError, positive_int


if TYPE_CHECKING:
    from ..modeling import VideoCaptioningPreTrainedModel
    from ..processing import VideoCaptioningProcessor


def caption_command(args: argparse.Namespace) -> None:
    """Print one caption per video, in the order given."""
    import torch
    from transformers.utils import logging as transformers_logging

    from ..processing import InvalidVideoError
    from ..training import load_captioner

    transformers_logging.disable_progress_bar()
    if args.attention_plot is not None:
        check_attention_plot_path(args.attention_plot, args.videos)
    model, processor = load_captioner(args.model)
    model.eval()
    if args.attention_plot is not None:
        save_attention_plot(model, processor, args.videos[0], Path(args.attention_plot), args.num_beams)
        return
    for start in range(0, len(args.videos), args.batch_size):
        videos = args.videos[start : start + args.batch_size]
        try:
            inputs = processor(videos=videos, return_tensors="pt")
        except InvalidVideoError as error:  # named by its path; its index in this batch (`videos[i]: `) would mislead
            raise InvalidVideoError(str(error.__cause__ or error)) from None
        with torch.inference_mode():
            ids = model.generate(**inputs, num_beams=args.num_beams)
        for video, caption in zip(videos, processor.batch_decode(ids, skip_special_tokens=True)):
            print(f"{video}\t{caption}" if len(args.videos) > 1 else caption)


def check_attention_plot_path(path: str, videos: list[str]) -> None:
    """Fail before any work for a plot that could not be written: several videos, an existing file (never
    overwritten), a missing folder, an image format matplotlib cannot write, or no matplotlib."""
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError as error:
        raise InvalidInputError('--attention-plot needs matplotlib: pip install "hf-vidcap[plot]"') from error
    formats = FigureCanvasBase.get_supported_filetypes()
    target = Path(path)
    if len(videos) != 1:
        raise InvalidInputError(f"--attention-plot draws one video: pass a single video, not {len(videos)}.")
    if target.exists():
        raise InvalidInputError(f"--attention-plot {path}: the file exists and is not overwritten; choose a new path.")
    if not target.parent.is_dir():
        raise InvalidInputError(f"--attention-plot {path}: the folder {target.parent} does not exist.")
    if target.suffix.lstrip(".").lower() not in formats:
        raise InvalidInputError(
            f"--attention-plot {path}: unknown image format {target.suffix or '(no extension)'!r}; "
            f"use one of {', '.join('.' + name for name in sorted(formats))}."
        )


def save_attention_plot(
    model: VideoCaptioningPreTrainedModel, processor: VideoCaptioningProcessor, video: str, path: Path, num_beams: int
) -> None:
    """Caption `video`, print the caption, and write the plot of each word's attention over its frames to `path`."""
    from ..visualization import caption_with_attention

    result = caption_with_attention(model, processor, video, num_beams=num_beams)
    plot = result.plot(title=f"{Path(video).name}: {result.caption}")
    image = io.BytesIO()
    plot.figure.savefig(image, format=path.suffix.lstrip(".").lower(), dpi=100)
    with open(path, "xb") as file:  # "x": never replace a file that appeared meanwhile
        file.write(image.getvalue())
    print(result.caption)


def register(commands: argparse._SubParsersAction) -> None:
    caption = commands.add_parser("caption", help="caption video files with a saved model")
    caption.add_argument("videos", nargs="+", help="video files")
    caption.add_argument("--model", required=True, help="folder with a saved model and processor")
    caption.add_argument("--num-beams", type=positive_int, default=5, help="beams for beam search (1 = greedy)")
    caption.add_argument("--batch-size", type=positive_int, default=8, help="videos captioned at once")
    caption.add_argument(
        "--attention-plot",
        metavar="PATH",
        help="also save each word's attention over the sampled frames to this new image file (one video; sa_lstm, ...)",
    )
    caption.set_defaults(handler=caption_command)
