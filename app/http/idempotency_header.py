"""The Idempotency-Key header (IETF draft, Stripe-compatible): bare or RFC 8941 quoted."""

from collections.abc import Mapping

from app.errors import IdempotencyKeyInvalid, IdempotencyKeyMissing

KEY_CHARS_MIN = 1
KEY_CHARS_MAX = 255
HEADER = "idempotency-key"
HEADER_ALIAS = "x-idempotency-key"


def _unquote_sf_string(raw: str) -> str:
    """The value of an RFC 8941 sf-string: ``"abc"`` means ``abc``, with ``\\"`` and ``\\\\``."""
    inner = raw[1:-1]
    chars: list[str] = []
    escaped = False
    for char in inner:
        if escaped:
            if char not in ('"', "\\"):
                raise IdempotencyKeyInvalid("The quoted Idempotency-Key has a bad escape.")
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise IdempotencyKeyInvalid("The quoted Idempotency-Key has an unescaped quote.")
        else:
            chars.append(char)
    if escaped:
        raise IdempotencyKeyInvalid("The quoted Idempotency-Key ends inside an escape.")
    return "".join(chars)


def _check(key: str) -> str:
    if not KEY_CHARS_MIN <= len(key) <= KEY_CHARS_MAX:
        raise IdempotencyKeyInvalid(
            f"The Idempotency-Key must be {KEY_CHARS_MIN} to {KEY_CHARS_MAX} characters."
        )
    if not all("!" <= char <= "~" for char in key):
        raise IdempotencyKeyInvalid("The Idempotency-Key must be visible ASCII characters only.")
    return key


def parse_key(headers: Mapping[str, str]) -> str:
    """The client's key from ``Idempotency-Key`` or its ``X-Idempotency-Key`` alias."""
    primary = headers.get(HEADER)
    alias = headers.get(HEADER_ALIAS)
    if primary is None and alias is None:
        raise IdempotencyKeyMissing("This request needs an Idempotency-Key header.")
    if primary is not None and alias is not None and primary != alias:
        raise IdempotencyKeyInvalid("Idempotency-Key and X-Idempotency-Key disagree.")
    raw = (primary if primary is not None else alias) or ""
    if len(raw) >= 2 and raw.startswith('"') and raw.endswith('"'):
        return _check(_unquote_sf_string(raw))
    return _check(raw)
