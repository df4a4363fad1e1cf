"""The JSON answers every route sends."""

import json
from typing import Any

from starlette.responses import Response
from starlette.types import Send

from app.idempotency import Answer

JSON_MEDIA_TYPE = "application/json"
JSON_MEDIA_TYPE_BYTES = JSON_MEDIA_TYPE.encode()


def json_response(document: Any) -> Response:
    return Response(json.dumps(document, separators=(",", ":")), media_type=JSON_MEDIA_TYPE)


def answer_response(answer: Answer) -> Response:
    """An accept's answer: its stored bytes, Location, and the replay marker on a replay."""
    headers = {"Location": answer.location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, answer.status, headers=headers, media_type=JSON_MEDIA_TYPE)


async def send_answer(send: Send, answer: Answer) -> None:
    """``answer_response``'s answer, sent as plain ASGI messages (the payment route's way)."""
    headers = [
        (b"content-length", b"%d" % len(answer.body)),
        (b"content-type", JSON_MEDIA_TYPE_BYTES),
        (b"location", answer.location.encode()),
    ]
    if answer.replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
