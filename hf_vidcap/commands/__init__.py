"""The `hf-vidcap` subcommands, one module each.

A command module defines `register(commands)`, which adds its subparser to the `argparse` sub-parsers object and sets
`handler=<function(args)>` on it. Add a new command by writing its module and listing it in `COMMANDS`.
"""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A problem with what the user passed on the command line (printed as one line, exit status 2)."""


def positive_int(value: str) -> int:
    """An `argparse` type: a whole number of at least 1 (a count, a size), rejected with argparse's usage error."""
    import argparse

    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def positive_float(value: str) -> float:
    """An `argparse` type: a number above 0 (epochs, a rate), rejected with argparse's usage error."""
    import argparse

    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {value}")
    return number


COMMANDS: list[str] = [
    "caption",
    "demo",
    "extract_features",
    "train",
    "evaluate",
    "push",
]
"""Module names under `hf_vidcap.commands`, in the order `hf-vidcap --help` lists them."""
