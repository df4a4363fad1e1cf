"""``paystream payment show ID``: one payment as an operator needs it, read from Redis."""

import argparse
import json
from collections.abc import Mapping
from typing import cast

from app.cli.parsing import Commands, command, group
from app.cli.resources import redis_client
from app.payments.record import PAYMENTS, view
from app.settings import settings


def show(args: argparse.Namespace) -> int:
    key = PAYMENTS.key_of(args.payment_id, settings().stream_partitions)
    raw: Mapping[bytes, bytes] = {}
    if key is not None:
        with redis_client() as client:
            raw = cast(Mapping[bytes, bytes], client.hgetall(key))
    if not raw:
        raise SystemExit(f"no payment {args.payment_id}")
    record = PAYMENTS.decode(raw)
    shown = {
        **view(record),
        "merchant_id": record.merchant_id,
        "recovery_point": record.step.value,
        "amount_refund_pending": record.amount_refund_pending,
    }
    print(json.dumps(shown, indent=2))
    return 0


def add_parsers(commands: Commands) -> None:
    payment = group(commands, "payment", "payments")
    showing = command(
        payment, "show", "one payment: its public view, merchant and recovery point", show
    )
    showing.add_argument("payment_id")
