"""``paystream merchant create|sync``."""

import argparse
import json

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


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    merchant = commands.add_parser("merchant", help="manage merchants")
    merchant_commands = merchant.add_subparsers(dest="merchant_command", required=True)
    creating = merchant_commands.add_parser("create", help="create a merchant and its API key")
    creating.add_argument("name")
    creating.add_argument("--json", action="store_true", help="print {merchant_id, api_key}")
    creating.set_defaults(run=create)
    syncing = merchant_commands.add_parser("sync", help="mirror merchant key hashes to Redis")
    syncing.set_defaults(run=sync)
