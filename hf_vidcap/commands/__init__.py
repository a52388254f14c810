"""The `hf-vidcap` subcommands, one module each.

A command module defines `register(commands)`, which adds its subparser to the `argparse` sub-parsers object and sets
`handler=<function(args)>` on it. Add a new command by writing its module and listing it in `COMMANDS`.
"""

from __future__ import annotations


class InvalidInputError(ValueError):
    """A problem with what the user passed on the command line (printed as one line, exit status 2)."""


COMMANDS: list[str] = [
    "caption",
    "demo",
    "extract_features",
    "train",
    "evaluate",
    "push",
]
"""Module names under `hf_vidcap.commands`, in the order `hf-vidcap --help` lists them."""
