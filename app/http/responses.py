"""The JSON answers every route sends."""

import json
from typing import Any

from starlette.responses import Response

from app.idempotency import Answer

JSON_MEDIA_TYPE = "application/json"


def json_response(document: Any) -> Response:
    return Response(json.dumps(document, separators=(",", ":")), media_type=JSON_MEDIA_TYPE)


def answer_response(answer: Answer) -> Response:
    """An accept's answer: its stored bytes, Location, and the replay marker on a replay."""
    headers = {"Location": answer.location}
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(answer.body, answer.status, headers=headers, media_type=JSON_MEDIA_TYPE)
