"""The `hf-vidcap` command: `hf-vidcap <command> --help` documents each one (see `hf_vidcap/commands/`).

Errors about the user's input (a missing or unreadable video, a folder that holds no model, a model that cannot read
pixels, a malformed annotation file, an output path that cannot be written) are printed as one line on stderr with
exit status 2, not as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tqdm import tqdm

from .commands import COMMANDS, InvalidInputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hf-vidcap", description="Recurrent video captioning models for transformers."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"hf_vidcap.commands.{name}").register(commands)
    for command in commands.choices.values():
        command.formatter_class = argparse.RawDescriptionHelpFormatter  # the command's docstring as written
        for action in command._actions:  # and every option's default, since the Trainer's own differ
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                action.help = f"{action.help or ''} (default: %(default)s)".lstrip()
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    # hf_vidcap.InvalidVideoError is a ValueError; OSError covers paths that exist, are missing, cannot be written...
    except (ValueError, OSError) as error:
        _close_progress_bars()
        print(f"hf-vidcap {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: a line, not the traceback of wherever it landed
        _close_progress_bars()
        print(f"hf-vidcap {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def _close_progress_bars() -> None:
    """Close the progress bars still drawn, so that a last message starts a line of its own, not the end of a bar's."""
    for bar in list(tqdm._instances):
        bar.close()


__all__ = ["InvalidInputError", "build_parser", "main"]


if __name__ == "__main__":
    sys.exit(main())
