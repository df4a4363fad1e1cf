"""Reading a JSON request body within its size limit, before anything else looks at it."""

from starlette.requests import Request

from app.errors import PayloadTooLarge, UnsupportedMediaType

BODY_BYTES_MAX = 64 * 1024


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json_body(request: Request) -> bytes:
    """The raw body; 415 unless declared JSON, 413 past ``BODY_BYTES_MAX`` (read no further)."""
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType("Send the body as 'Content-Type: application/json'.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_BYTES_MAX:
        raise PayloadTooLarge(f"The body must be at most {BODY_BYTES_MAX} bytes.")
    chunks: list[bytes] = []
    size_bytes = 0
    async for chunk in request.stream():
        size_bytes += len(chunk)
        if size_bytes > BODY_BYTES_MAX:
            raise PayloadTooLarge(f"The body must be at most {BODY_BYTES_MAX} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)
