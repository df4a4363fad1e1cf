"""``paystream merchant create|sync``."""

import argparse
import json

from app.cli.parsing import Commands, command, group
from app.cli.resources import database, redis_client
from app.merchants import registry


def create(args: argparse.Namespace) -> int:
    with database() as engine, redis_client() as client:
        merchant = registry.create(engine, client, args.name)
    if args.json:
        print(json.dumps({"merchant_id": merchant.merchant_id, "api_key": merchant.api_key}))
    else:
        print(f"merchant {merchant.merchant_id} ({merchant.name})")
        print(f"api key  {merchant.api_key}  (shown once; only its hash is stored)")
    return 0


def sync(_: argparse.Namespace) -> int:
    with database() as engine, redis_client() as client:
        count = registry.sync(engine, client)
    print(f"mirrored {count} merchant key(s) to Redis")
    return 0


def add_parsers(commands: Commands) -> None:
    merchant = group(commands, "merchant", "manage merchants")
    creating = command(merchant, "create", "create a merchant and its API key", create)
    creating.add_argument("name")
    creating.add_argument("--json", action="store_true", help="print {merchant_id, api_key}")
    command(merchant, "sync", "mirror merchant key hashes to Redis", sync)
