"""Every error leaves as an RFC 9457 ``application/problem+json`` answer."""

import json
import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.errors import ApiError, InternalError, MethodNotAllowed, NotFound, Unavailable
from app.http.allow import allowed_methods
from app.metrics import PROBLEMS
from app.queue.connection import REDIS_UNAVAILABLE_ERRORS

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger(__name__)


def problem_response(error: ApiError) -> Response:
    PROBLEMS.labels(error.code).inc()
    return Response(
        json.dumps(error.problem(), separators=(",", ":")),
        status_code=int(error.status),
        headers=error.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def api_error(_: Request, error: Exception) -> Response:
    if not isinstance(error, ApiError):
        raise TypeError(f"api_error got {type(error).__name__}")
    return problem_response(error)


async def http_error(request: Request, error: Exception) -> Response:
    if not isinstance(error, HTTPException):
        raise TypeError(f"http_error got {type(error).__name__}")
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        return problem_response(
            MethodNotAllowed(
                "This route does not take that method.",
                headers={"Allow": allowed_methods(request)},
            )
        )
    if error.status_code == HTTPStatus.NOT_FOUND:
        return problem_response(NotFound("No such route."))
    generic = ApiError(str(error.detail))
    generic.status = HTTPStatus(error.status_code)
    return problem_response(generic)


async def unexpected_error(_: Request, error: Exception) -> Response:
    return unexpected_problem(error)


def unexpected_problem(error: Exception) -> Response:
    """A Redis outage is a 503 (nothing stored); anything else is a bug, logged, and a 500."""
    if isinstance(error, REDIS_UNAVAILABLE_ERRORS):
        return problem_response(Unavailable())
    logger.exception("unhandled error", exc_info=error)
    return problem_response(InternalError("Something went wrong on our side."))


EXCEPTION_HANDLERS = {
    ApiError: api_error,
    HTTPException: http_error,
    Exception: unexpected_error,
}
