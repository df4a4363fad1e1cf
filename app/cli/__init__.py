"""The ``paystream`` command: merchants, the ledger, the queues, the provider simulator."""

import argparse
import logging
import sys
from collections.abc import Sequence

from app import logs
from app.cli import config, events, ledger, merchants, payments, queue
from app.settings import settings


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="paystream")
    commands = root.add_subparsers(dest="command", required=True)
    merchants.add_parsers(commands)
    ledger.add_parsers(commands)
    queue.add_parsers(commands)
    payments.add_parsers(commands)
    config.add_parsers(commands)
    events.add_parsers(commands)
    # Listed for --help only: main() hands the rest of the line to the simulator's own parser.
    commands.add_parser("simulator", help="serve the Stripe + Paystack simulator (see --help)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["simulator"]:
        from app import simulator

        return simulator.main(arguments[1:])
    args = parser().parse_args(arguments)
    # Text at a terminal, JSON lines under a scheduler; warnings and worse only, so a
    # command's own output stays readable. A bad environment stops here, exit status 2.
    logs.configure(settings().log_format, logging.WARNING)
    return int(args.run(args))
