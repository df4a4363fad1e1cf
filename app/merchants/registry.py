"""Creating merchants and mirroring their key hashes to Redis.

Only the hash of an API key is stored; the key itself is shown once, at creation.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, text

from app.merchants.api_keys import hash_api_key, new_api_key
from app.queue import keys
from app.queue.connection import SyncClient

MERCHANT_ID_PREFIX = "mer_"
MERCHANT_ID_BYTES = 12
NAME_CHARS_MAX = 200
#: Merchants mirrored to Redis per round trip.
SYNC_BATCH_SIZE = 1000


@dataclass(frozen=True)
class NewMerchant:
    merchant_id: str
    name: str
    api_key: str


def create(engine: Engine, client: SyncClient, name: str) -> NewMerchant:
    if not 1 <= len(name) <= NAME_CHARS_MAX:
        raise ValueError(f"a merchant name is 1 to {NAME_CHARS_MAX} characters")
    merchant = NewMerchant(
        merchant_id=MERCHANT_ID_PREFIX + secrets.token_hex(MERCHANT_ID_BYTES),
        name=name,
        api_key=new_api_key(),
    )
    key_hash = hash_api_key(merchant.api_key)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO merchants (id, name, api_key_hash) VALUES (:id, :name, :hash)"),
            {"id": merchant.merchant_id, "name": name, "hash": key_hash},
        )
    client.hset(keys.AUTH_KEY, key_hash, merchant.merchant_id)
    return merchant


def sync(engine: Engine, client: SyncClient) -> int:
    """Mirror every merchant's key hash into Redis (after a Redis restart); returns the count."""
    count = 0
    with engine.connect() as connection:
        rows = connection.execution_options(yield_per=SYNC_BATCH_SIZE).execute(
            text("SELECT api_key_hash, id FROM merchants")
        )
        for batch in rows.partitions():
            client.hset(
                keys.AUTH_KEY, mapping={key_hash: merchant_id for key_hash, merchant_id in batch}
            )
            count += len(batch)
    return count
