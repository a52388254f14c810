"""`hf-vidcap caption VIDEO [VIDEO ...] --model DIR [--num-beams N] [--batch-size B]`: one caption per video."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import InvalidInputError


def caption_command(args: argparse.Namespace) -> None:
    """Print one caption per video, in the order given."""
    import torch
    from transformers import AutoModel, AutoProcessor
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    model_dir = Path(args.model)
    if not (model_dir / "config.json").is_file():
        raise InvalidInputError(
            f"--model {args.model}: no config.json there; pass a folder written by save_pretrained."
        )
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    for start in range(0, len(args.videos), args.batch_size):
        videos = args.videos[start : start + args.batch_size]
        inputs = processor(videos=videos, return_tensors="pt")
        with torch.inference_mode():
            ids = model.generate(**inputs, num_beams=args.num_beams)
        for video, caption in zip(videos, processor.batch_decode(ids, skip_special_tokens=True)):
            print(f"{video}\t{caption}" if len(args.videos) > 1 else caption)


def register(commands: argparse._SubParsersAction) -> None:
    caption = commands.add_parser("caption", help="caption video files with a saved model")
    caption.add_argument("videos", nargs="+", help="video files")
    caption.add_argument("--model", required=True, help="folder with a saved model and processor")
    caption.add_argument("--num-beams", type=int, default=5, help="beams for beam search (1 = greedy)")
    caption.add_argument("--batch-size", type=int, default=8, help="videos captioned at once")
    caption.set_defaults(handler=caption_command)
