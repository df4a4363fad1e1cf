"""The OpenAPI operations of outbound webhooks (endpoints, an event's attempts, resend), kept
as one block that ``app.http.openapi`` spreads into its paths."""

from typing import Any

from app.events.outbox import EVENT_TYPES
from app.webhooks.deliveries import ALL_EVENTS
from app.webhooks.endpoints import ENDPOINTS_PER_MERCHANT_MAX
from app.webhooks.models import ENABLED_EVENTS_MAX, RESPONSE_HEAD_BYTES_MAX, URL_LENGTH_MAX

_PROBLEM = {
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, **_PROBLEM}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "starting_after", "in": "query", "schema": {"type": "string"}},
    {"name": "ending_before", "in": "query", "schema": {"type": "string"}},
]
_ENDPOINT_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "enabled_events"],
    "properties": {
        "url": {
            "type": "string",
            "maxLength": URL_LENGTH_MAX,
            "description": "https:// (http:// only with WEBHOOK_ALLOW_PRIVATE_URLS); a host "
            "resolving to a private, loopback, link-local, multicast or reserved address is "
            "refused.",
        },
        "enabled_events": {
            "type": "array",
            "minItems": 1,
            "maxItems": ENABLED_EVENTS_MAX,
            "uniqueItems": True,
            "items": {"type": "string", "enum": [ALL_EVENTS, *EVENT_TYPES]},
        },
    },
}
_ENDPOINT = {
    "type": "object",
    "required": ["id", "object", "url", "enabled_events", "status", "created"],
    "properties": {
        "id": {"type": "string", "pattern": "^we_"},
        "object": {"const": "webhook_endpoint"},
        "url": {"type": "string"},
        "enabled_events": {"type": "array", "items": {"type": "string"}},
        "status": {"type": "string", "enum": ["enabled", "disabled"]},
        "created": {"type": "integer"},
        "secret": {
            "type": "string",
            "pattern": "^whsec_",
            "description": "Only in the create answer (and its replay).",
        },
    },
}
_ATTEMPT = {
    "type": "object",
    "properties": {
        "object": {"const": "webhook_attempt"},
        "id": {"type": "string"},
        "event_id": {"type": "string"},
        "endpoint_id": {"type": "string"},
        "attempted_at": {"type": "integer"},
        "status_code": {"type": ["integer", "null"]},
        "latency_ms": {"type": "integer"},
        "response_head": {"type": "string", "maxLength": RESPONSE_HEAD_BYTES_MAX},
        "error": {"type": ["string", "null"]},
    },
}


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "url", "has_more", "data"],
        "properties": {
            "object": {"const": "list"},
            "url": {"type": "string"},
            "has_more": {"type": "boolean"},
            "data": {"type": "array", "items": item},
        },
    }


OUTBOUND_WEBHOOK_PATHS: dict[str, Any] = {
    "/v1/webhook_endpoints": {
        "post": {
            "operationId": "createWebhookEndpoint",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ENDPOINT_CREATE}},
            },
            "responses": {
                "201": _json("Created, with its secret (shown here only).", _ENDPOINT),
                "400": _problem(
                    "invalid_request naming the field, idempotency_key_missing/invalid, or "
                    f"webhook_endpoints_limit (at most {ENDPOINTS_PER_MERCHANT_MAX})"
                ),
                "401": _problem("unauthorized"),
                "415": _problem("unsupported_media_type"),
                "422": _problem("idempotency_key_reused"),
                "503": _problem("unavailable: PostgreSQL is down"),
            },
        },
        "get": {
            "operationId": "listWebhookEndpoints",
            "parameters": _PAGING,
            "responses": {
                "200": _json("Newest first.", _list_of(_ENDPOINT)),
                "400": _problem("invalid_request naming the parameter"),
                "401": _problem("unauthorized"),
                "503": _problem("unavailable: PostgreSQL is down"),
            },
        },
    },
    "/v1/webhook_endpoints/{endpoint_id}": {
        "get": {
            "operationId": "getWebhookEndpoint",
            "parameters": [_path_id("endpoint_id")],
            "responses": {
                "200": _json("The endpoint, without its secret.", _ENDPOINT),
                "401": _problem("unauthorized"),
                "404": _problem("not_found"),
            },
        },
        "delete": {
            "operationId": "deleteWebhookEndpoint",
            "parameters": [_path_id("endpoint_id")],
            "responses": {
                "200": {"description": "Deleted: {id, object, deleted: true}."},
                "401": _problem("unauthorized"),
                "404": _problem("not_found"),
            },
        },
    },
    "/v1/events/{event_id}/attempts": {
        "get": {
            "operationId": "listEventAttempts",
            "parameters": [_path_id("event_id")],
            "responses": {
                "200": _json("Every attempt, newest first.", _list_of(_ATTEMPT)),
                "401": _problem("unauthorized"),
                "404": _problem("not_found"),
            },
        }
    },
    "/v1/events/{event_id}/resend": {
        "post": {
            "operationId": "resendEvent",
            "parameters": [_path_id("event_id")],
            "responses": {
                "202": {"description": "Every delivery of the event is due now."},
                "401": _problem("unauthorized"),
                "404": _problem("not_found"),
                "409": _problem("delivery_in_flight, with Retry-After"),
            },
        }
    },
}
