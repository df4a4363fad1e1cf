"""Every request gets an id, answers with it in ``Request-Id``, and leaves one access line.

The id is the client's ``X-Request-Id`` when it sent a sane one (so a merchant can follow its
own id through our logs), else a new one. It is bound for the request's log lines and travels
in the worker message of a payment it creates (``app.queue.dispatch``), so the worker's lines
about that payment carry it too.

Plain ASGI around the whole application, outside Starlette's error middleware, so a 500 is
logged and carries its id like any other answer.
"""

import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs

HEADER = b"request-id"
CLIENT_HEADER = b"x-request-id"
#: A client's id is kept when it is this shape: short, and nothing a log reader could trip on.
CLIENT_ID_PATTERN = re.compile(rb"[A-Za-z0-9._:+=/-]{1,128}")
NEW_ID_PREFIX = "req_"
NEW_ID_BYTES = 12
#: What the access line names as the path when no route matched (a 404): never the raw path,
#: which a client chooses and could fill with anything.
UNMATCHED_PATH = "<unmatched>"
#: The status logged for a request whose answer never started (the client went away).
NO_ANSWER_STATUS = 0
log = logs.get_logger("paystream.access")


def request_id_from(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == CLIENT_HEADER and CLIENT_ID_PATTERN.fullmatch(value):
            return value.decode("ascii")
    return NEW_ID_PREFIX + secrets.token_hex(NEW_ID_BYTES)


def path_template(scope: Scope) -> str:
    """The route's path with its parameters as names (``/v1/payments/{payment_id}``)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED_PATH
    return scope.get("root_path", "") + path


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        logs.clear()
        logs.bind(request_id=request_id)
        started_s = time.perf_counter()
        status = NO_ANSWER_STATUS

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            latency_ms = (time.perf_counter() - started_s) * 1000
            log.info(
                "http.request",
                method=scope["method"],
                path=path_template(scope),
                status=status,
                latency_ms=round(latency_ms, 3),
                merchant_id=_merchant_id(scope),
            )
            logs.clear()


def _merchant_id(scope: Scope) -> Any:
    """Set by authentication (``app.http.access``) in the request's state, when it got that far."""
    state = scope.get("state")
    return state.get("merchant_id") if isinstance(state, dict) else None
