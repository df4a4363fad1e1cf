"""Reading a JSON request body within its size limit, and parsing it strictly, before anything
else looks at it."""

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request

from app.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

BODY_BYTES_MAX = 64 * 1024
JSON_ONLY = "Send the body as 'Content-Type: application/json'."


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json_body(headers: Mapping[str, str], chunks: AsyncIterator[bytes]) -> bytes:
    """The raw body; 415 unless declared JSON, 413 past ``BODY_BYTES_MAX`` (read no further)."""
    if not _is_json(headers.get("content-type", "")):
        raise UnsupportedMediaType(JSON_ONLY)
    return await read_limited(headers, chunks, BODY_BYTES_MAX)


async def read_body(request: Request, body_bytes_max: int) -> bytes:
    """The raw body, exactly as sent; 413 past ``body_bytes_max`` (read no further)."""
    return await read_limited(request.headers, request.stream(), body_bytes_max)


async def read_limited(
    headers: Mapping[str, str], chunks: AsyncIterator[bytes], body_bytes_max: int
) -> bytes:
    too_large = PayloadTooLarge(f"The body must be at most {body_bytes_max} bytes.")
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > body_bytes_max:
        raise too_large
    read: list[bytes] = []
    size_bytes = 0
    async for chunk in chunks:
        size_bytes += len(chunk)
        if size_bytes > body_bytes_max:
            raise too_large
        read.append(chunk)
    return b"".join(read)


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequest(f"Field '{key}' appears more than once.", field=key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> None:
    raise InvalidRequest(f"'{name}' is not valid JSON.")


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; duplicate keys, NaN/Infinity and non-objects are a 400."""
    try:
        document = json.loads(
            body,
            object_pairs_hook=_refuse_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidRequest(f"The body is not valid JSON: {error}.") from None
    except RecursionError:
        raise InvalidRequest("The body nests too deeply.") from None
    if not isinstance(document, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return document
