"""One error tree for the HTTP surface; each class maps to one RFC 9457 problem."""

from http import HTTPStatus

PROBLEM_TYPE_BASE = "https://paystream.dev/problems/"
#: What a client is told to wait before retrying when Redis cannot take the request.
UNAVAILABLE_RETRY_AFTER_S = 1


class ApiError(Exception):
    """A problem the client is told about, with a stable machine ``code``."""

    status = HTTPStatus.BAD_REQUEST
    code = "invalid_request"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    @property
    def title(self) -> str:
        return self.status.phrase

    def problem(self) -> dict[str, object]:
        return {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": int(self.status),
            "detail": self.detail,
            "code": self.code,
        }


class InvalidRequest(ApiError):
    """The body or a parameter breaks a rule; ``field`` names which."""

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field

    def problem(self) -> dict[str, object]:
        problem = super().problem()
        if self.field is not None:
            problem["field"] = self.field
        return problem


class IdempotencyKeyMissing(ApiError):
    """A mutation came without an Idempotency-Key."""

    code = "idempotency_key_missing"


class IdempotencyKeyInvalid(ApiError):
    """The Idempotency-Key header is malformed."""

    code = "idempotency_key_invalid"


class IdempotencyKeyReused(ApiError):
    """The key was first used with a different payload."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    code = "idempotency_key_reused"


class RefundExceedsPayment(ApiError):
    """The refund asks for more than what remains of the payment."""

    code = "refund_exceeds_payment"


class PaymentNotRefundable(ApiError):
    """The payment has not succeeded, so there is nothing to refund yet."""

    code = "payment_not_refundable"


class InvalidSignature(ApiError):
    """A provider webhook whose signature is missing, wrong or stale; nothing was processed."""

    code = "invalid_signature"


class Unauthorized(ApiError):
    """No API key, or one we do not know."""

    status = HTTPStatus.UNAUTHORIZED
    code = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="paystream"'})


class NotFound(ApiError):
    """No such object for this merchant (another merchant's object looks the same)."""

    status = HTTPStatus.NOT_FOUND
    code = "not_found"


class MethodNotAllowed(ApiError):
    """The route exists but not with this method."""

    status = HTTPStatus.METHOD_NOT_ALLOWED
    code = "method_not_allowed"


class PayloadTooLarge(ApiError):
    """The body is over the size limit."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    """The body is not declared as JSON."""

    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class Unavailable(ApiError):
    """Redis could not durably take the request; nothing was stored."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "unavailable"

    def __init__(
        self,
        detail: str = "Redis could not take the request; nothing was stored. Retrying, with the "
        "same Idempotency-Key for a write, is safe.",
    ) -> None:
        super().__init__(detail, headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)})


class RateLimited(ApiError):
    """The merchant sent more accepts than its rate allows; nothing was stored."""

    status = HTTPStatus.TOO_MANY_REQUESTS
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class InternalError(ApiError):
    """A bug: logged with its traceback, answered without details."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    code = "internal_error"


# Outbound webhooks.
class WebhookEndpointsLimit(ApiError):
    """The merchant already has as many webhook endpoints as one merchant may."""

    code = "webhook_endpoints_limit"


class DeliveryInFlight(ApiError):
    """A delivery of this event is being attempted right now; resend once it is done."""

    status = HTTPStatus.CONFLICT
    code = "delivery_in_flight"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
