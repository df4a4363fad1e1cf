"""``paystream config check``: the settings a web or worker process would start with, checked
without starting one (the release phase runs it, so a bad environment never goes live)."""

import argparse

from app.cli.parsing import Commands, command, group
from app.settings import worker_settings


def check(_: argparse.Namespace) -> int:
    """Exit 0 when a worker would start; otherwise every problem, exit status 2."""
    worker_settings()
    print("settings ok")
    return 0


def add_parsers(commands: Commands) -> None:
    config = group(commands, "config", "the settings read from the environment")
    command(
        config,
        "check",
        "report every bad variable at once (exit 2), as web and worker would",
        check,
    )
