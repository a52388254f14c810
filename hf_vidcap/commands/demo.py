"""`hf-vidcap demo --output DIR [--model s2vt] [--num-clips N] [--epochs E]`: render clips, train, score, reload."""

from __future__ import annotations

import argparse
import sys

from . import positive_float, positive_int


def demo_command(args: argparse.Namespace) -> None:
    from ..demo import DemoArguments, run_demo

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


def register(commands: argparse._SubParsersAction) -> None:
    from ..demo import DemoArguments

    defaults = DemoArguments()
    demo = commands.add_parser("demo", help="render clips, train, score, save and reload a captioner")
    demo.add_argument("--output", default=defaults.output_dir, help="output folder (new, empty, or a previous demo's)")
    demo.add_argument("--model", default=defaults.model, help="architecture to train (s2vt, mean_pool, ...)")
    demo.add_argument("--num-clips", type=positive_int, default=defaults.num_clips, help="clips to render")
    demo.add_argument("--epochs", type=positive_float, default=defaults.epochs, help="training epochs")
    demo.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    demo.set_defaults(handler=demo_command)
