"""The `hf-vidcap` command.

    hf-vidcap caption VIDEO [VIDEO ...] --model DIR [--num-beams N] [--batch-size B]
    hf-vidcap demo --output DIR [--model s2vt] [--num-clips N] [--epochs E]

Errors about the user's input (a missing or unreadable video, a folder that holds no model, a model that cannot read
pixels) are printed as one line on stderr with exit status 2, not as a Python traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


class InvalidInputError(ValueError):
    """A problem with what the user passed on the command line."""


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


def demo_command(args: argparse.Namespace) -> None:
    from .demo import DemoArguments, run_demo

    results = run_demo(
        DemoArguments(
            output_dir=args.output,
            model=args.model,
            num_clips=args.num_clips,
            epochs=args.epochs,
            seed=args.seed,
        )
    )
    sys.stdout.flush()
    if results["metrics"]["CIDEr"] < 1.0 or results["cider_ratio_to_baseline"] < 3.0:
        print("warning: the demo did not reach CIDEr-D >= 1.0 and 3x the blind baseline", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-vidcap", description="Recurrent video captioning models for transformers."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    caption = commands.add_parser("caption", help="caption video files with a saved model")
    caption.add_argument("videos", nargs="+", help="video files")
    caption.add_argument("--model", required=True, help="folder with a saved model and processor")
    caption.add_argument("--num-beams", type=int, default=5, help="beams for beam search (1 = greedy)")
    caption.add_argument("--batch-size", type=int, default=8, help="videos captioned at once")
    caption.set_defaults(handler=caption_command)

    from .demo import DemoArguments

    defaults = DemoArguments()
    demo = commands.add_parser("demo", help="render clips, train, score, save and reload a captioner")
    demo.add_argument("--output", default=defaults.output_dir, help="output folder (new, empty, or a previous demo's)")
    demo.add_argument("--model", default=defaults.model, help="architecture to train (s2vt, mean_pool, ...)")
    demo.add_argument("--num-clips", type=int, default=defaults.num_clips, help="clips to render")
    demo.add_argument("--epochs", type=float, default=defaults.epochs, help="training epochs")
    demo.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    demo.set_defaults(handler=demo_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileExistsError, FileNotFoundError) as error:  # hf_vidcap.InvalidVideoError is a ValueError
        print(f"hf-vidcap {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
