"""``paystream events list|show|resend``: merchants' events and their webhook deliveries, read
from PostgreSQL, and an event sent again, for an operator answering "did they get it?"."""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from app.cli.parsing import Commands, command, group
from app.cli.resources import database, redis_client
from app.errors import ApiError
from app.events.outbox import EVENT_TYPES
from app.history.listing import DATABASE_ERRORS
from app.queue import keys
from app.settings import settings
from app.webhooks import operators
from app.webhooks.queueing import chain_messages

#: Exit statuses: the answer is no (not found, in flight); the question could not be asked.
REFUSED_STATUS = 1
UNAVAILABLE_STATUS = 2


def _print(document: Any) -> None:
    print(json.dumps(document, indent=2, default=str))


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The command, with an unreachable database and a refusal told in one line each."""

    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except DATABASE_ERRORS as error:
            print(f"PostgreSQL unavailable: {type(error).__name__}", file=sys.stderr)
            return UNAVAILABLE_STATUS
        except ApiError as error:
            print(error.detail, file=sys.stderr)
            return REFUSED_STATUS

    return guarded


@_guarded
def list_events(args: argparse.Namespace) -> int:
    with database() as engine:
        found = operators.events(engine, args.merchant, args.payment, args.type, args.limit)
    _print(found)
    return 0


@_guarded
def show(args: argparse.Namespace) -> int:
    with database() as engine:
        found = operators.event(engine, args.event_id)
    if found is None:
        print(f"no event {args.event_id}", file=sys.stderr)
        return REFUSED_STATUS
    event = {**found.event, "body": json.loads(found.event["body"])}
    _print({"event": event, "deliveries": found.deliveries, "attempts": found.attempts})
    return 0


@_guarded
def resend(args: argparse.Namespace) -> int:
    with database() as engine:
        chains = operators.resend_any(engine, args.event_id)
    # Due in PostgreSQL already: were Redis down, the workers' sweep would queue them.
    with redis_client() as client:
        for stream, message in chain_messages(settings().stream_partitions, chains):
            client.xadd(stream, {keys.MESSAGE_FIELD: message})
    _print({"id": args.event_id, "resent_to": sorted({endpoint for endpoint, _ in chains})})
    return 0


def add_parsers(commands: Commands) -> None:
    events = group(commands, "events", "merchants' events and their webhook deliveries")
    listing = command(events, "list", "events, newest first", list_events)
    listing.add_argument("--merchant", help="one merchant's events")
    listing.add_argument("--payment", help="one payment's events")
    listing.add_argument("--type", choices=EVENT_TYPES)
    listing.add_argument("--limit", type=int, default=20)
    showing = command(events, "show", "one event, its deliveries and every attempt", show)
    showing.add_argument("event_id")
    resending = command(events, "resend", "send an event to its endpoints again now", resend)
    resending.add_argument("event_id")
