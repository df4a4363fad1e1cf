"""``paystream queue status`` and ``paystream dlq list|show|replay``."""

import argparse
import json
from collections.abc import Callable
from typing import TypeVar

from app.cli.parsing import Commands, command, group
from app.cli.progress import Progress
from app.cli.resources import redis_client
from app.queue import ops
from app.queue.connection import SyncClient
from app.queue.dispatch import PAYMENTS_QUEUE
from app.settings import settings

Found = TypeVar("Found")


def status(args: argparse.Namespace) -> int:
    with redis_client() as client:
        rows = ops.queue_status(client, args.queue, settings().stream_partitions)
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


def dead_list(args: argparse.Namespace) -> int:
    with redis_client() as client:
        entries = ops.dead_entries(client, args.queue, settings().stream_partitions)
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


def _at_dead_entry(
    args: argparse.Namespace, operation: Callable[[SyncClient, str, int, str], Found | None]
) -> tuple[int, Found]:
    """``operation`` on the dead entry the command names; exit 1 when there is no such entry."""
    partition, entry_id = _dead_address(args.entry)
    with redis_client() as client:
        found = operation(client, args.queue, partition, entry_id)
    if found is None:
        raise SystemExit(f"no dead entry {args.entry}")
    return partition, found


def dead_show(args: argparse.Namespace) -> int:
    _, entry = _at_dead_entry(args, ops.dead_entry)
    shown = {"reason": entry.reason, "deliveries": entry.deliveries, "message": entry.message}
    print(json.dumps(shown, indent=2))
    return 0


def dead_replay(args: argparse.Namespace) -> int:
    if args.all == (args.entry is not None):
        raise SystemExit("name one dead entry (PARTITION/ENTRY_ID) or --all")
    if args.all:
        return dead_replay_all(args)
    partition, new_entry = _at_dead_entry(args, ops.replay)
    print(f"replayed {args.entry} as {partition}/{new_entry}")
    return 0


def dead_replay_all(args: argparse.Namespace) -> int:
    """Every dead message back to work, partition by partition, with progress at a terminal."""
    partitions = settings().stream_partitions
    with redis_client() as client:
        progress = Progress(
            "replaying dead messages", ops.dead_count(client, args.queue, partitions)
        )
        replayed = ops.replay_all(client, args.queue, partitions, progress.advance)
    progress.finish()
    print(f"replayed {replayed} dead message(s)")
    return 0


def add_parsers(commands: Commands) -> None:
    queue = group(commands, "queue", "the work streams")
    showing_status = command(queue, "status", "length, pending, idle, lag per partition", status)

    dlq = group(commands, "dlq", "dead-lettered messages")
    listing = command(dlq, "list", "newest dead messages per partition", dead_list)
    showing = command(dlq, "show", "one dead message in full", dead_show)
    replaying = command(dlq, "replay", "put dead messages back to work", dead_replay)
    showing.add_argument("entry", help="PARTITION/ENTRY_ID as dlq list prints it")
    replaying.add_argument("entry", nargs="?", help="PARTITION/ENTRY_ID as dlq list prints it")
    replaying.add_argument("--all", action="store_true", help="every dead message, all partitions")
    for parser in (showing_status, listing, showing, replaying):
        parser.add_argument("--queue", default=PAYMENTS_QUEUE)
