"""Paystack's face: charge a saved authorization, verify by reference, refund.

Faults apply to the charge only, in a real stack's order: authentication (401), the rate limiter
(429), validation (400), then execution, which an injected 500 may precede (nothing happened)
or follow (the charge happened, the answer is lost: verify the reference to find out), or an
injected hang follow (the charge happened, the answer comes after the client gave up). The
limiter and the draws use the rule of the charge's ``authorization_code``.
"""

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.simulator import paystack_transactions
from app.simulator.face import Face
from app.simulator.faults import Fault
from app.simulator.paystack_wire import (
    PaystackError,
    decode_json,
    failure,
    parse_charge,
    parse_refund,
)
from app.simulator.wire import (
    Answer,
    BodyTooLarge,
    bearer_key,
    json_response,
    pause,
    read_body,
    wait_s,
)

UNAUTHORIZED_MESSAGE = "Invalid key"
SERVER_ERROR_MESSAGE = "An error occurred while processing your request"


#: A Paystack endpoint, called once the request has shown a secret key.
Endpoint = Callable[[Request], Awaitable[Response]]


class PaystackFace(Face):
    def routes(self) -> list[Route]:
        return [
            _route("POST", "/transaction/charge_authorization", self.charge_authorization),
            _route("GET", "/transaction/verify/{reference}", self.verify),
            _route("POST", "/refund", self.refund),
            _route("GET", "/refund/{refund_id:int}", self.fetch_refund),
        ]

    async def charge_authorization(self, request: Request) -> Response:
        method = await _authorization_code(request)
        retry_after_s = self.faults.rate_limited(method)
        if retry_after_s is not None:
            return _rate_limited(retry_after_s)
        try:
            charge = parse_charge(await _read_json(request))
        except PaystackError as error:
            return _error_response(error)
        fault = self.faults.failure(method)
        await pause(self.faults, method)
        if fault is Fault.FAIL_BEFORE:
            return json_response(500, failure(SERVER_ERROR_MESSAGE))
        try:
            answer = paystack_transactions.charge(self.state, charge, bearer_key(request) or "")
        except PaystackError as error:
            return _error_response(error)
        self._send_webhook(answer, request)
        if fault is Fault.FAIL_AFTER and answer.changed:
            return json_response(500, failure(SERVER_ERROR_MESSAGE))
        if fault is Fault.HANG_AFTER and answer.changed:
            await wait_s(self.faults.hang_s(method))
        return json_response(answer.status_code, answer.body)

    async def verify(self, request: Request) -> Response:
        reference = request.path_params["reference"]
        return await self._execute(lambda: paystack_transactions.verify(self.state, reference))

    async def refund(self, request: Request) -> Response:
        try:
            refund = parse_refund(await _read_json(request))
        except PaystackError as error:
            return _error_response(error)
        return await self._execute(
            lambda: paystack_transactions.refund(self.state, refund), request
        )

    async def fetch_refund(self, request: Request) -> Response:
        refund_id = request.path_params["refund_id"]
        return await self._execute(
            lambda: paystack_transactions.fetch_refund(self.state, refund_id)
        )

    async def _execute(
        self, execute: Callable[[], Answer], request: Request | None = None
    ) -> Response:
        await pause(self.faults)
        try:
            answer = execute()
        except PaystackError as error:
            return _error_response(error)
        if request is not None:
            self._send_webhook(answer, request)
        return json_response(answer.status_code, answer.body)

    def _send_webhook(self, answer: Answer, request: Request) -> None:
        """Sent whatever becomes of the answer, signed with the key of the account it is on."""
        secret_key = bearer_key(request)
        if answer.webhook is not None and secret_key is not None:
            self.webhooks.paystack(*answer.webhook, secret_key)


def _route(method: str, path: str, endpoint: Endpoint) -> Route:
    return Route(path, partial(_authenticated, endpoint=endpoint), methods=[method])


async def _authenticated(request: Request, endpoint: Endpoint) -> Response:
    """Every Paystack call is refused without a secret key, before anything else happens."""
    if bearer_key(request) is None:
        return _unauthorized()
    return await endpoint(request)


async def _read_json(request: Request) -> dict[str, Any]:
    try:
        return decode_json(await read_body(request))
    except BodyTooLarge as error:
        raise PaystackError(400, str(error)) from error


async def _authorization_code(request: Request) -> str | None:
    """Read ahead of validation, which comes after the rate limiter this is for."""
    try:
        code = (await _read_json(request)).get("authorization_code")
    except PaystackError:
        return None  # refused once validation runs
    return code if isinstance(code, str) else None


def _unauthorized() -> Response:
    return json_response(401, failure(UNAUTHORIZED_MESSAGE))


def _rate_limited(retry_after_s: int) -> Response:
    body = {"status": False, "message": "Rate limit exceeded", "code": "rate_limited"}
    return json_response(429, body, (("Retry-After", str(retry_after_s)),))


def _error_response(error: PaystackError) -> Response:
    return json_response(error.status_code, error.body())
