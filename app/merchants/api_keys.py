"""API keys: issued once to a merchant, kept only as a hash.

Keys are random 256-bit tokens, so a plain SHA-256 is the right hash at rest: there is nothing
to brute-force, and a slow password hash would only slow every request down.
"""

import hashlib
import secrets

API_KEY_PREFIX = "psk_"
API_KEY_BYTES = 32


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_BYTES)


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()
