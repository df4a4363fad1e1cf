"""``paystream config check``: the settings a web or worker process would start with, checked
without starting one (the release phase runs it, so a bad environment never goes live)."""

import argparse

from app.settings import worker_settings


def check(_: argparse.Namespace) -> int:
    """Exit 0 when a worker would start; otherwise every problem, exit status 2."""
    worker_settings()
    print("settings ok")
    return 0


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    config = commands.add_parser("config", help="the settings read from the environment")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    checking = config_commands.add_parser(
        "check", help="report every bad variable at once (exit 2), as web and worker would"
    )
    checking.set_defaults(run=check)
