"""Stripe's face: `/v1/payment_intents` and `/v1/refunds`, with Stripe's idempotency layer.

A POST goes through the layers in Stripe's order: authentication (401), the rate limiter (429),
parameter validation (400), the idempotency layer (replay, 400 mismatch, 409 in flight), then
execution. Only what execution decides is stored against the key; an injected 500-before is not,
an injected 500-after is (the work happened, so a replay must not do it again), and so is the
real answer of an injected hang, stored before it is held back: a client that timed out and
retries gets the replay.

The rate limiter and the fault draws use the rule of the call's payment method: the form's
``payment_method``, else (for a confirm) the one the PaymentIntent holds.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.simulator import stripe_intents
from app.simulator.face import Face
from app.simulator.faults import Fault
from app.simulator.idempotency import KEY_LENGTH_MAX, Claim, ClaimKind, StoredAnswer
from app.simulator.state import SimState
from app.simulator.stripe_wire import (
    Form,
    StripeError,
    decode_form,
    error_body,
    invalid,
    nest,
    parse_cancel_intent,
    parse_confirm_intent,
    parse_create_customer,
    parse_create_intent,
    parse_create_refund,
    parse_search,
)
from app.simulator.wire import (
    Answer,
    BodyTooLarge,
    Headers,
    bearer_or_basic_key,
    json_bytes,
    json_response,
    pause,
    raw_json_response,
    read_body,
    wait_s,
)

REQUEST_ID_RANDOM_BYTES = 7
RATE_LIMIT_MESSAGE = (
    "Too many requests hit the API too quickly. We recommend an exponential backoff of your "
    "requests."
)
SERVER_ERROR_MESSAGE = "An unknown error occurred while processing your request."

#: Executes a parsed request against the books; raises StripeError to refuse it.
Execute = Callable[[SimState], Answer]
#: Parses the form (and path) of a request into its Execute; raises StripeError on bad input.
Prepare = Callable[[Request, Form], Execute]
#: Parses the path and query of a read into its Execute; raises StripeError on bad input.
PrepareRead = Callable[[Request], Execute]


@dataclass(frozen=True, slots=True)
class _Reply:
    status_code: int
    body: bytes
    headers: Headers
    #: Kept against the idempotency key: execution began, so a retry must replay it.
    storable: bool
    #: How long the answer is held back after it is stored (an injected hang).
    hang_s: float = 0.0


def new_request_id() -> str:
    return "req_" + secrets.token_hex(REQUEST_ID_RANDOM_BYTES)


class StripeFace(Face):
    def routes(self) -> list[Route]:
        return [
            self._post_route("/v1/payment_intents", _prepare_create_intent, faulty=True),
            self._post_route("/v1/customers", _prepare_create_customer, faulty=False),
            self._get_route("/v1/payment_intents/search", _prepare_search_intents),
            self._get_route("/v1/payment_intents/{intent_id}", _prepare_retrieve_intent),
            self._post_route(
                "/v1/payment_intents/{intent_id}/confirm", _prepare_confirm_intent, faulty=True
            ),
            self._post_route(
                "/v1/payment_intents/{intent_id}/cancel", _prepare_cancel_intent, faulty=False
            ),
            # Faults are drawn for the charge calls only (see app.simulator.faults).
            self._post_route("/v1/refunds", _prepare_create_refund, faulty=False),
            self._get_route("/v1/refunds/{refund_id}", _prepare_retrieve_refund),
        ]

    def _get_route(self, path: str, prepare: PrepareRead) -> Route:
        return Route(path, partial(self._get, prepare=prepare), methods=["GET"])

    def _post_route(self, path: str, prepare: Prepare, *, faulty: bool) -> Route:
        return Route(path, partial(self._post, prepare=prepare, faulty=faulty), methods=["POST"])

    async def _get(self, request: Request, prepare: PrepareRead) -> Response:
        request_id = new_request_id()
        if bearer_or_basic_key(request) is None:
            return _unauthorized(request, request_id)
        await pause(self.faults)
        try:
            answer = prepare(request)(self.state)
        except StripeError as error:
            return _error_response(error, request_id)
        return json_response(answer.status_code, answer.body, (("Request-Id", request_id),))

    async def _post(self, request: Request, prepare: Prepare, *, faulty: bool) -> Response:
        request_id = new_request_id()
        api_key = bearer_or_basic_key(request)
        if api_key is None:
            return _unauthorized(request, request_id)
        method = await self._payment_method(request) if faulty else None
        retry_after_s = self.faults.rate_limited(method) if faulty else None
        if retry_after_s is not None:
            return _rate_limited(retry_after_s, request_id)
        try:
            pairs = decode_form(await read_body(request))
            execute = prepare(request, nest(pairs))
            key = _idempotency_key(request)
        except BodyTooLarge as error:
            return _error_response(invalid(str(error)), request_id)
        except StripeError as error:
            return _error_response(error, request_id)
        if key is None:
            return await _deliver(await self._execute(execute, faulty, method), request_id)
        endpoint = f"{request.method} {request.url.path}"
        claim = self.state.idempotency.claim(api_key, key, endpoint, tuple(sorted(pairs)))
        if claim.kind is not ClaimKind.NEW:
            return _claim_response(claim, key, endpoint, request_id)
        reply = await self._execute_keyed(api_key, key, execute, request_id, faulty, method)
        return await _deliver(reply, request_id)

    async def _payment_method(self, request: Request) -> str | None:
        """Read ahead of validation, which comes after the rate limiter this is for."""
        try:
            pairs = decode_form(await read_body(request))
        except (BodyTooLarge, StripeError):
            return None  # refused once validation runs
        named = dict(pairs).get("payment_method")
        intent_id = request.path_params.get("intent_id")
        if named is None and intent_id is not None:
            return stripe_intents.payment_method_of(self.state, intent_id)
        return named

    async def _execute_keyed(
        self,
        api_key: str,
        key: str,
        execute: Execute,
        request_id: str,
        faulty: bool,
        method: str | None,
    ) -> _Reply:
        completed = False
        try:
            reply = await self._execute(execute, faulty, method)
            if reply.storable:
                answer = StoredAnswer(reply.status_code, reply.body, reply.headers, request_id)
                self.state.idempotency.complete(api_key, key, answer)
                completed = True
            return reply
        finally:
            # Whatever stopped this request before its answer was stored (a refusal, a
            # 500-before, a cancelled task) leaves the key free for the client's retry.
            if not completed:
                self.state.idempotency.release(api_key, key)

    async def _execute(self, execute: Execute, faulty: bool, method: str | None) -> _Reply:
        fault = self.faults.failure(method) if faulty else Fault.NONE
        await pause(self.faults, method)
        if fault is Fault.FAIL_BEFORE:
            return _server_error(should_retry=True, storable=False)
        try:
            answer = execute(self.state)
        except StripeError as error:
            return _Reply(error.status_code, json_bytes(error.body()), (), storable=False)
        if answer.webhook is not None:
            # Sent whatever becomes of the answer: the work happened.
            self.webhooks.stripe(*answer.webhook)
        if fault is Fault.FAIL_AFTER and answer.changed:
            return _server_error(should_retry=False, storable=True)
        hang_s = self.faults.hang_s(method) if fault is Fault.HANG_AFTER and answer.changed else 0
        return _Reply(answer.status_code, json_bytes(answer.body), (), True, hang_s)


def _prepare_create_intent(request: Request, form: Form) -> Execute:
    return partial(stripe_intents.create, request=parse_create_intent(form))


def _prepare_create_customer(request: Request, form: Form) -> Execute:
    return partial(stripe_intents.create_customer, request=parse_create_customer(form))


def _prepare_confirm_intent(request: Request, form: Form) -> Execute:
    intent_id = request.path_params["intent_id"]
    return partial(stripe_intents.confirm, intent_id=intent_id, request=parse_confirm_intent(form))


def _prepare_cancel_intent(request: Request, form: Form) -> Execute:
    intent_id = request.path_params["intent_id"]
    return partial(stripe_intents.cancel, intent_id=intent_id, reason=parse_cancel_intent(form))


def _prepare_create_refund(request: Request, form: Form) -> Execute:
    return partial(stripe_intents.refund, request=parse_create_refund(form))


def _prepare_retrieve_intent(request: Request) -> Execute:
    return partial(stripe_intents.retrieve, intent_id=request.path_params["intent_id"])


def _prepare_search_intents(request: Request) -> Execute:
    query, limit = request.query_params.get("query"), request.query_params.get("limit")
    return partial(stripe_intents.search, request=parse_search(query, limit))


def _prepare_retrieve_refund(request: Request) -> Execute:
    return partial(stripe_intents.retrieve_refund, refund_id=request.path_params["refund_id"])


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and (key == "" or len(key) > KEY_LENGTH_MAX):
        raise invalid(
            f"Idempotency-Key must be 1..{KEY_LENGTH_MAX} characters.", param="Idempotency-Key"
        )
    return key


async def _deliver(reply: _Reply, request_id: str) -> Response:
    await wait_s(reply.hang_s)
    return _response(reply, request_id)


def _response(reply: _Reply, request_id: str) -> Response:
    return raw_json_response(
        reply.status_code, reply.body, (*reply.headers, ("Request-Id", request_id))
    )


def _claim_response(claim: Claim, key: str, endpoint: str, request_id: str) -> Response:
    match claim.kind:
        case ClaimKind.REPLAY:
            return _replay(claim.answer, request_id)
        case ClaimKind.IN_FLIGHT:
            message = (
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                f"going through): {key}. Please try again later."
            )
            return _idempotency_error(409, message, request_id)
        case ClaimKind.OTHER_ENDPOINT:
            message = (
                "Keys for idempotent requests can only be used for the same endpoint they were "
                f"first used for ('{claim.endpoint}' vs '{endpoint}'). Try using a key other "
                f"than '{key}' if you meant to execute a different request."
            )
            return _idempotency_error(400, message, request_id)
        case ClaimKind.NEW:
            raise RuntimeError("a new claim has no stored response")
        case ClaimKind.OTHER_PARAMS:
            message = (
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request."
            )
            return _idempotency_error(400, message, request_id)


def _replay(answer: StoredAnswer | None, request_id: str) -> Response:
    if answer is None:
        raise RuntimeError("a replay without a stored answer")
    headers = (
        *answer.headers,
        ("Idempotent-Replayed", "true"),
        ("Original-Request", answer.request_id),
        ("Request-Id", request_id),
    )
    return raw_json_response(answer.status_code, answer.body, headers)


def _idempotency_error(status_code: int, message: str, request_id: str) -> Response:
    body = error_body("idempotency_error", message)
    return json_response(status_code, body, (("Request-Id", request_id),))


def _server_error(*, should_retry: bool, storable: bool) -> _Reply:
    # Stripe-Should-Retry tells clients (the official SDK included) whether a retry is safe:
    # true when nothing happened, false when the work was done and only the answer was lost.
    header = ("Stripe-Should-Retry", "true" if should_retry else "false")
    body = json_bytes(error_body("api_error", SERVER_ERROR_MESSAGE))
    return _Reply(500, body, (header,), storable=storable)


def _rate_limited(retry_after_s: int, request_id: str) -> Response:
    body = error_body("rate_limit_error", RATE_LIMIT_MESSAGE, code="rate_limit")
    headers = (("Retry-After", str(retry_after_s)), ("Request-Id", request_id))
    return json_response(429, body, headers)


def _unauthorized(request: Request, request_id: str) -> Response:
    if "authorization" not in request.headers:
        message = (
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY')."
        )
    else:
        message = "Invalid API Key provided: expected Bearer or Basic auth with a secret key."
    body = error_body("invalid_request_error", message)
    return json_response(401, body, (("Request-Id", request_id),))


def _error_response(error: StripeError, request_id: str) -> Response:
    return json_response(error.status_code, error.body(), (("Request-Id", request_id),))
