"""The simulator's own endpoints: what moved, the live fault configuration, reset, health."""

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.simulator import paystack_transactions, stripe_intents
from app.simulator.config import ConfigError
from app.simulator.face import Face
from app.simulator.webhooks import WEBHOOK_FIELDS
from app.simulator.wire import Answer, BodyTooLarge, Webhook, json_response, read_body


class ControlFace(Face):
    def routes(self) -> list[Route]:
        return [
            Route("/healthz", self.health, methods=["GET"]),
            Route("/_sim/charges", self.charges, methods=["GET"]),
            Route("/_sim/refunds", self.refunds, methods=["GET"]),
            Route("/_sim/config", self.config, methods=["GET"]),
            Route("/_sim/config", self.update_config, methods=["POST"]),
            Route("/_sim/reset", self.reset, methods=["POST"]),
            Route(
                "/_sim/payment_intents/{intent_id}/authenticate",
                self.authenticate_intent,
                methods=["POST"],
            ),
            Route(
                "/_sim/transactions/{reference}/authenticate",
                self.authenticate_transaction,
                methods=["POST"],
            ),
        ]

    async def health(self, request: Request) -> Response:
        return json_response(200, {"status": "ok"})

    async def charges(self, request: Request) -> Response:
        """One entry per movement of money: how a test proves nothing was charged twice."""
        return json_response(200, {"charges": self.state.charges_json()})

    async def refunds(self, request: Request) -> Response:
        return json_response(200, {"refunds": self.state.refunds_json()})

    async def config(self, request: Request) -> Response:
        return json_response(200, self._config_json())

    async def update_config(self, request: Request) -> Response:
        """Fault and webhook fields alike; either all of a change applies or none of it."""
        try:
            changes = json.loads(await read_body(request))
            if not isinstance(changes, dict):
                raise ConfigError("expected a JSON object")
            webhook_changes = {k: v for k, v in changes.items() if k in WEBHOOK_FIELDS}
            webhooks = self.webhooks.config.updated(webhook_changes)
            fault_changes = {k: v for k, v in changes.items() if k not in WEBHOOK_FIELDS}
            self.faults.update(fault_changes)
        except (ValueError, BodyTooLarge) as error:
            # ConfigError, JSONDecodeError and UnicodeDecodeError are all ValueErrors.
            return json_response(400, {"error": str(error)})
        self.webhooks.apply(webhooks)
        return json_response(200, self._config_json())

    def _config_json(self) -> dict[str, object]:
        return self.faults.config.as_json() | self.webhooks.config.as_json()

    async def authenticate_intent(self, request: Request) -> Response:
        """The customer does (``{"succeed": true}``) or fails 3-D Secure on a Stripe intent."""
        intent_id = request.path_params["intent_id"]

        def send(webhook: Webhook) -> None:
            self.webhooks.stripe(*webhook)

        return await _authenticate(
            request,
            lambda succeed: stripe_intents.authenticate(self.state, intent_id, succeed),
            send,
            f"{intent_id} awaits no authentication",
        )

    async def authenticate_transaction(self, request: Request) -> Response:
        """The customer authorizes (or not) a paused Paystack charge."""
        reference = request.path_params["reference"]

        def send(webhook: Webhook) -> None:
            secret_key = self.state.transactions[reference].secret_key
            self.webhooks.paystack(*webhook, secret_key)

        return await _authenticate(
            request,
            lambda succeed: paystack_transactions.authenticate(self.state, reference, succeed),
            send,
            f"{reference} awaits no authorization",
        )

    async def reset(self, request: Request) -> Response:
        """Forget every object, movement and idempotency key; the configuration stays.

        A burst window stays open too; the random source restarts from the seed.
        """
        self.state.reset()
        self.faults.reseed()
        return json_response(200, {"reset": True})


async def _authenticate(
    request: Request,
    authenticate: Callable[[bool], Answer | None],
    send: Callable[[Webhook], None],
    nothing_waits: str,
) -> Response:
    """What the customer decided (the body), applied to what waits for them; the provider's
    event about it sent as the provider would."""
    succeed = await _succeed(request)
    if succeed is None:
        return json_response(400, {"error": 'expected {"succeed": true|false}'})
    answer = authenticate(succeed)
    if answer is None:
        return json_response(409, {"error": nothing_waits})
    if answer.webhook is not None:
        send(answer.webhook)
    return json_response(answer.status_code, answer.body)


async def _succeed(request: Request) -> bool | None:
    """``{"succeed": true|false}`` (an empty body passes); None for any other body."""
    try:
        body = json.loads(await read_body(request) or b"{}")
    except (ValueError, BodyTooLarge):
        return None
    succeed = body.get("succeed", True) if isinstance(body, dict) else None
    return succeed if isinstance(succeed, bool) else None
