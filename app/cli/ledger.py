"""``paystream ledger verify|balance|checkpoint``."""

import argparse
import os
import sys

from app.cli.resources import database
from app.ledger import checkpoint
from app.ledger.balances import balances
from app.ledger.verify import VerifyReport, verify


def _verify_report(args: argparse.Namespace) -> VerifyReport:
    with database() as engine:
        if args.from_checkpoint is None:
            return verify(engine, from_seq=args.from_seq)
        key = checkpoint.signing_key(os.environ.get(checkpoint.KEY_ENVIRONMENT_VARIABLE))
        with open(args.from_checkpoint, encoding="utf-8") as source:
            signed = checkpoint.from_json(source.read(), key)
        return checkpoint.verify_from(engine, signed)


def verify_chain(args: argparse.Namespace) -> int:
    try:
        report = _verify_report(args)
    except checkpoint.CheckpointInvalid as error:
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return 2
    if report.ok:
        print(f"ledger ok: {report.entries_checked} transaction(s), head seq {report.head_seq}")
        return 0
    print(f"ledger BROKEN at seq {report.first_bad_seq}: {report.reason}", file=sys.stderr)
    return 1


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


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    ledger = commands.add_parser("ledger", help="the hash-chained ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verifying = ledger_commands.add_parser("verify", help="re-derive every hash and balance")
    verify_start = verifying.add_mutually_exclusive_group()
    verify_start.add_argument("--from-seq", type=int, default=1)
    verify_start.add_argument(
        "--from-checkpoint", metavar="FILE", help="a signed checkpoint to start from"
    )
    verifying.set_defaults(run=verify_chain)
    balancing = ledger_commands.add_parser(
        "balance", help="debits minus credits per account and currency"
    )
    balancing.add_argument("--merchant", help="only the postings of this merchant's transactions")
    balancing.add_argument("--as-of-seq", type=int, help="as of this seq (default: the head)")
    balancing.set_defaults(run=balance)
    checkpointing = ledger_commands.add_parser(
        "checkpoint", help="print a signed digest of the head (key: $LEDGER_CHECKPOINT_KEY)"
    )
    checkpointing.set_defaults(run=make_checkpoint)
