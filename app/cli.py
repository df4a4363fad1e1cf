"""The ``paystream`` command: merchants, the ledger verifier, the provider simulator."""

import argparse
import json
import os
import sys
from collections.abc import Sequence

import redis

from app.dispatch import PAYMENTS_QUEUE
from app.settings import settings


def _merchant_create(args: argparse.Namespace) -> int:
    from app import merchants
    from app.db import create_engine_for

    config = settings()
    engine = create_engine_for(config.database_url)
    client = redis.Redis.from_url(config.redis_url)
    try:
        merchant = merchants.create(engine, client, args.name)
    finally:
        client.close()
        engine.dispose()
    if args.json:
        print(json.dumps({"merchant_id": merchant.merchant_id, "api_key": merchant.api_key}))
    else:
        print(f"merchant {merchant.merchant_id} ({merchant.name})")
        print(f"api key  {merchant.api_key}  (shown once; only its hash is stored)")
    return 0


def _merchant_sync(_: argparse.Namespace) -> int:
    from app import merchants
    from app.db import create_engine_for

    config = settings()
    engine = create_engine_for(config.database_url)
    client = redis.Redis.from_url(config.redis_url)
    try:
        count = merchants.sync(engine, client)
    finally:
        client.close()
        engine.dispose()
    print(f"mirrored {count} merchant key(s) to Redis")
    return 0


def _ledger_verify(args: argparse.Namespace) -> int:
    from app.db import create_engine_for
    from app.ledger import checkpoint
    from app.ledger.verify import verify

    engine = create_engine_for(settings().database_url)
    try:
        if args.from_checkpoint is None:
            report = verify(engine, from_seq=args.from_seq)
        else:
            key = checkpoint.signing_key(os.environ.get(checkpoint.KEY_ENVIRONMENT_VARIABLE))
            with open(args.from_checkpoint, encoding="utf-8") as source:
                signed = checkpoint.from_json(source.read(), key)
            report = checkpoint.verify_from(engine, signed)
    except checkpoint.CheckpointInvalid as error:
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if report.ok:
        print(f"ledger ok: {report.entries_checked} transaction(s), head seq {report.head_seq}")
        return 0
    print(f"ledger BROKEN at seq {report.first_bad_seq}: {report.reason}", file=sys.stderr)
    return 1


def _ledger_balance(args: argparse.Namespace) -> int:
    from app.db import create_engine_for
    from app.ledger.balances import balances

    engine = create_engine_for(settings().database_url)
    try:
        result = balances(engine, merchant_id=args.merchant, as_of_seq=args.as_of_seq)
    finally:
        engine.dispose()
    # Debits minus credits, minor units: positive is net debited, negative net credited.
    for account, nets in result.items():
        for currency, net in nets.items():
            print(f"{account}\t{currency}\t{net}")
    return 0


def _ledger_checkpoint(_: argparse.Namespace) -> int:
    from app.db import create_engine_for
    from app.ledger import checkpoint

    try:
        key = checkpoint.signing_key(os.environ.get(checkpoint.KEY_ENVIRONMENT_VARIABLE))
    except checkpoint.CheckpointInvalid as error:
        print(f"checkpoint refused: {error}", file=sys.stderr)
        return 2
    engine = create_engine_for(settings().database_url)
    try:
        print(checkpoint.to_json(checkpoint.create(engine, key)))
    finally:
        engine.dispose()
    return 0


def _queue_client() -> redis.Redis:
    return redis.Redis.from_url(settings().redis_url)


def _queue_status(args: argparse.Namespace) -> int:
    from app.queue_ops import queue_status

    client = _queue_client()
    try:
        rows = queue_status(client, args.queue, settings().stream_partitions)
    finally:
        client.close()
    print(
        f"{'partition':>9} {'length':>8} {'pending':>8} {'oldest idle ms':>15} {'lag':>6} "
        f"{'delayed':>8} {'dead':>6}"
    )
    for row in rows:
        idle = "-" if row.oldest_pending_idle_ms is None else str(row.oldest_pending_idle_ms)
        lag = "-" if row.lag is None else str(row.lag)
        print(
            f"{row.partition:>9} {row.length:>8} {row.pending:>8} {idle:>15} {lag:>6} "
            f"{row.delayed:>8} {row.dead:>6}"
        )
    return 0


def _dlq_list(args: argparse.Namespace) -> int:
    from app.queue_ops import dead_entries

    client = _queue_client()
    try:
        entries = dead_entries(client, args.queue, settings().stream_partitions)
    finally:
        client.close()
    for entry in entries:
        call = f"{entry.message.get('actor_name')}({', '.join(map(str, entry.message['args']))})"
        print(
            f"{entry.partition}/{entry.entry_id}  {entry.reason:<22} {entry.deliveries:>3}  {call}"
        )
    print(f"{len(entries)} dead message(s)")
    return 0


def _dead_address(address: str) -> tuple[int, str]:
    partition, _, entry_id = address.partition("/")
    if not partition.isdigit() or not entry_id:
        raise SystemExit(
            f"a dead entry is PARTITION/ENTRY_ID (as dlq list prints), not {address!r}"
        )
    return int(partition), entry_id


def _dlq_show(args: argparse.Namespace) -> int:
    from app.queue_ops import dead_entry

    partition, entry_id = _dead_address(args.entry)
    client = _queue_client()
    try:
        entry = dead_entry(client, args.queue, partition, entry_id)
    finally:
        client.close()
    if entry is None:
        print(f"no dead entry {args.entry}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {"reason": entry.reason, "deliveries": entry.deliveries, "message": entry.message},
            indent=2,
        )
    )
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    from app.queue_ops import replay

    partition, entry_id = _dead_address(args.entry)
    client = _queue_client()
    try:
        new_entry = replay(client, args.queue, partition, entry_id)
    finally:
        client.close()
    if new_entry is None:
        print(f"no dead entry {args.entry}", file=sys.stderr)
        return 1
    print(f"replayed {args.entry} as {partition}/{new_entry}")
    return 0


def _queue_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    queue = commands.add_parser("queue", help="the work streams")
    queue_commands = queue.add_subparsers(dest="queue_command", required=True)
    status = queue_commands.add_parser("status", help="length, pending, idle, lag per partition")
    status.add_argument("--queue", default=PAYMENTS_QUEUE)
    status.set_defaults(run=_queue_status)

    dlq = commands.add_parser("dlq", help="dead-lettered messages")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_commands.add_parser("list", help="newest dead messages per partition")
    listing.set_defaults(run=_dlq_list)
    show = dlq_commands.add_parser("show", help="one dead message in full")
    show.add_argument("entry", help="PARTITION/ENTRY_ID as dlq list prints it")
    show.set_defaults(run=_dlq_show)
    replay = dlq_commands.add_parser("replay", help="put a dead message back to work")
    replay.add_argument("entry", help="PARTITION/ENTRY_ID as dlq list prints it")
    replay.set_defaults(run=_dlq_replay)
    for command in (listing, show, replay):
        command.add_argument("--queue", default=PAYMENTS_QUEUE)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="paystream")
    commands = root.add_subparsers(dest="command", required=True)

    merchant = commands.add_parser("merchant", help="manage merchants")
    merchant_commands = merchant.add_subparsers(dest="merchant_command", required=True)
    create = merchant_commands.add_parser("create", help="create a merchant and its API key")
    create.add_argument("name")
    create.add_argument("--json", action="store_true", help="print {merchant_id, api_key}")
    create.set_defaults(run=_merchant_create)
    sync = merchant_commands.add_parser("sync", help="mirror merchant key hashes to Redis")
    sync.set_defaults(run=_merchant_sync)

    ledger = commands.add_parser("ledger", help="the hash-chained ledger")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    verify = ledger_commands.add_parser("verify", help="re-derive every hash and balance")
    verify_start = verify.add_mutually_exclusive_group()
    verify_start.add_argument("--from-seq", type=int, default=1)
    verify_start.add_argument(
        "--from-checkpoint", metavar="FILE", help="a signed checkpoint to start from"
    )
    verify.set_defaults(run=_ledger_verify)
    balance = ledger_commands.add_parser(
        "balance", help="debits minus credits per account and currency"
    )
    balance.add_argument("--merchant", help="only the postings of this merchant's transactions")
    balance.add_argument("--as-of-seq", type=int, help="as of this seq (default: the head)")
    balance.set_defaults(run=_ledger_balance)
    checkpoint = ledger_commands.add_parser(
        "checkpoint", help="print a signed digest of the head (key: $LEDGER_CHECKPOINT_KEY)"
    )
    checkpoint.set_defaults(run=_ledger_checkpoint)

    # Listed for --help only: main() hands the rest of the line to the simulator's own parser.
    _queue_parsers(commands)
    commands.add_parser("simulator", help="serve the Stripe + Paystack simulator (see --help)")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["simulator"]:
        from app import simulator

        return simulator.main(arguments[1:])
    args = parser().parse_args(arguments)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
