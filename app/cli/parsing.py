"""How each command module adds its words to ``paystream``: a group (``ledger``) of commands
(``ledger verify``), each run by one function that returns the exit status."""

import argparse
from collections.abc import Callable
from typing import TypeAlias

Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Run: TypeAlias = Callable[[argparse.Namespace], int]


def group(commands: Commands, name: str, help: str) -> Commands:
    """``paystream NAME``, which takes one of the commands added to what this returns."""
    parser = commands.add_parser(name, help=help)
    return parser.add_subparsers(dest=f"{name}_command", required=True)


def command(group: Commands, name: str, help: str, run: Run) -> argparse.ArgumentParser:
    """``paystream GROUP NAME``; add its arguments to what this returns."""
    parser = group.add_parser(name, help=help)
    parser.set_defaults(run=run)
    return parser
