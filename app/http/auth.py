"""Bearer API-key authentication, answered from Redis so PostgreSQL is never on this path.

Keys are random 256-bit tokens, so a plain SHA-256 is the right hash at rest: there is nothing
to brute-force, and a slow password hash would only slow every request down.
"""

import time
from collections.abc import Mapping

from app.errors import Unauthorized
from app.merchants.api_keys import hash_api_key
from app.queue import keys
from app.queue.batch import Batcher

API_KEY_PREFIX = "psk_"
API_KEY_BYTES = 32
#: A verified key is trusted this long without asking Redis again; a revoked key stops
#: working within this window.
AUTH_CACHE_TTL_S = 10.0
AUTH_CACHE_ENTRIES_MAX = 10_000


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer <api key>'.")
    return token.strip()


class Authenticator:
    def __init__(self, batcher: Batcher) -> None:
        self._batcher = batcher
        self._cache: dict[str, tuple[str, float]] = {}

    async def merchant_for(self, headers: Mapping[str, str]) -> str:
        key_hash = hash_api_key(bearer_token(headers))
        cached = self._cache.get(key_hash)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        stored = await self._batcher.command("HGET", keys.AUTH_KEY, key_hash)
        if stored is None:
            raise Unauthorized("The API key is not valid.")
        merchant_id = stored.decode() if isinstance(stored, bytes) else stored
        if len(self._cache) >= AUTH_CACHE_ENTRIES_MAX:
            self._cache.clear()
        self._cache[key_hash] = (merchant_id, now + AUTH_CACHE_TTL_S)
        return merchant_id
