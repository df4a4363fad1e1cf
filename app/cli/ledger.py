"""``paystream ledger verify|balance|checkpoint``."""

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor, wait

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from app import verifications
from app.cli.parsing import Commands, command, group
from app.cli.progress import Progress
from app.cli.resources import database, redis_client
from app.ledger import checkpoint
from app.ledger.balances import balances
from app.ledger.errors import LedgerNotInitialised
from app.ledger.verify import VerifyReport, verify
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS


def _verify_report(args: argparse.Namespace) -> VerifyReport:
    with database() as engine:
        if args.from_checkpoint is None:
            return verify(engine, from_seq=args.from_seq)
        key = checkpoint.signing_key(os.environ.get(checkpoint.KEY_ENVIRONMENT_VARIABLE))
        with open(args.from_checkpoint, encoding="utf-8") as source:
            signed = checkpoint.from_json(source.read(), key)
        return checkpoint.verify_from(engine, signed)


#: Exit statuses of ``ledger verify``: a broken ledger is a finding (1); a ledger that could
#: not be read is no finding at all (2), and a scheduler must tell the two apart.
VERIFY_OK = 0
VERIFY_BROKEN = 1
VERIFY_IMPOSSIBLE = 2
#: How often the terminal's progress line is redrawn while the database works.
PROGRESS_INTERVAL_S = 0.2


def _verify_with_progress(args: argparse.Namespace) -> VerifyReport:
    """The verification, run beside a progress line that shows it working (at a terminal)."""
    progress = Progress("verifying the ledger…")
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(_verify_report, args)
        while not running.done():
            progress.draw()
            wait([running], timeout=PROGRESS_INTERVAL_S)
        progress.finish()
        return running.result()


def verify_chain(args: argparse.Namespace) -> int:
    try:
        report = _verify_with_progress(args)
    except checkpoint.CheckpointInvalid as error:
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return VERIFY_IMPOSSIBLE
    except (SQLAlchemyError, psycopg.Error, LedgerNotInitialised) as error:
        print(f"ledger not verified: cannot read it ({first_line(error)})", file=sys.stderr)
        return VERIFY_IMPOSSIBLE
    remember(report)
    if report.ok:
        print(f"ledger ok: {report.entries_checked} transaction(s), head seq {report.head_seq}")
        return 0
    print(f"ledger BROKEN at seq {report.first_bad_seq}: {report.reason}", file=sys.stderr)
    return VERIFY_BROKEN


def first_line(error: BaseException) -> str:
    """The driver's message, first line only: the command's answer stays one line."""
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def remember(report: VerifyReport) -> None:
    """Keep the result for the console's ledger page; the verdict stands without it."""
    try:
        with redis_client() as client:
            verifications.store(client, verifications.of_report(report))
    except REDIS_UNAVAILABLE_ERRORS as error:
        print(f"(result not kept for the console: {first_line(error)})", file=sys.stderr)


def balance(args: argparse.Namespace) -> int:
    with database() as engine:
        result = balances(engine, merchant_id=args.merchant, as_of_seq=args.as_of_seq)
    # Debits minus credits, minor units: positive is net debited, negative net credited.
    for account, nets in result.items():
        for currency, net in nets.items():
            print(f"{account}\t{currency}\t{net}")
    return 0


def make_checkpoint(_: argparse.Namespace) -> int:
    try:
        key = checkpoint.signing_key(os.environ.get(checkpoint.KEY_ENVIRONMENT_VARIABLE))
    except checkpoint.CheckpointInvalid as error:
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return 2
    with database() as engine:
        print(checkpoint.to_json(checkpoint.create(engine, key)))
    return 0


def add_parsers(commands: Commands) -> None:
    ledger = group(commands, "ledger", "the hash-chained ledger")
    verifying = command(ledger, "verify", "re-derive every hash and balance", verify_chain)
    verify_start = verifying.add_mutually_exclusive_group()
    verify_start.add_argument("--from-seq", type=int, default=1)
    verify_start.add_argument(
        "--from-checkpoint", metavar="FILE", help="a signed checkpoint to start from"
    )
    balancing = command(ledger, "balance", "debits minus credits per account and currency", balance)
    balancing.add_argument("--merchant", help="only the postings of this merchant's transactions")
    balancing.add_argument("--as-of-seq", type=int, help="as of this seq (default: the head)")
    command(
        ledger,
        "checkpoint",
        "print a signed digest of the head (key: $LEDGER_CHECKPOINT_KEY)",
        make_checkpoint,
    )
