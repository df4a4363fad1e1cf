"""The simulator's ASGI application: both provider faces and the control endpoints."""

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.simulator.config import SimConfig
from app.simulator.control import ControlFace
from app.simulator.faults import Faults
from app.simulator.paystack_face import PaystackFace
from app.simulator.paystack_wire import failure
from app.simulator.state import SimState
from app.simulator.stripe_face import StripeFace
from app.simulator.stripe_wire import error_body
from app.simulator.webhooks import WebhookConfig, WebhookSender
from app.simulator.wire import json_response

STRIPE_PATH_PREFIX = "/v1/"


def create_app(config: SimConfig, webhook_config: WebhookConfig | None = None) -> Starlette:
    state = SimState()
    faults = Faults(config)
    webhooks = WebhookSender(webhook_config or WebhookConfig(), config.seed)

    # Starlette tries routes in order: the providers' hot paths go first.
    routes = [
        *StripeFace(state, faults, webhooks).routes(),
        *PaystackFace(state, faults, webhooks).routes(),
        *ControlFace(state, faults, webhooks).routes(),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _unrecognized})


async def _unrecognized(request: Request, error: Exception) -> Response:
    """Answer an unknown route in the provider's own shape, so a client sees what is missing."""
    status_code = error.status_code if isinstance(error, HTTPException) else 500
    message = f"Unrecognized request URL ({request.method}: {request.url.path})."
    if request.url.path.startswith(STRIPE_PATH_PREFIX):
        return json_response(status_code, error_body("invalid_request_error", message))
    return json_response(status_code, failure(message))
