"""Who may use the console: one token log-in, a signed session cookie, a CSRF token per session.

The session cookie is signed with a key derived from CONSOLE_TOKEN, so every web process
accepts it without sharing anything else, and changing the token logs everyone out. It is
HttpOnly and SameSite=Strict; every form that changes something carries the session's CSRF
token, checked in constant time."""

import hashlib
import hmac
import secrets
from http import HTTPStatus

from starlette.requests import Request

from app.errors import ApiError

SESSION_COOKIE = "paystream_console"
#: A log-in lasts a working shift.
SESSION_MAX_AGE_S = 8 * 3600
CSRF_FIELD = "csrf"
CSRF_TOKEN_BYTES = 32
SIGNING_CONTEXT = b"paystream console session v1"


class CsrfRefused(ApiError):
    """A changing form came without this session's CSRF token."""

    status = HTTPStatus.FORBIDDEN
    code = "csrf_refused"

    def __init__(self) -> None:
        super().__init__("This form needs the CSRF token of your console session.")


def signing_key(console_token: str) -> str:
    return hmac.new(console_token.encode(), SIGNING_CONTEXT, hashlib.sha256).hexdigest()


def token_matches(offered: str, console_token: str) -> bool:
    return hmac.compare_digest(offered.encode(), console_token.encode())


def log_in(request: Request) -> None:
    request.session.clear()
    request.session["operator"] = True
    request.session[CSRF_FIELD] = secrets.token_urlsafe(CSRF_TOKEN_BYTES)


def logged_in(request: Request) -> bool:
    return request.session.get("operator") is True


def csrf_token(request: Request) -> str:
    return str(request.session.get(CSRF_FIELD, ""))


async def check_csrf(request: Request) -> None:
    """403 unless the form's CSRF field is this session's token."""
    form = await request.form()
    offered = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not isinstance(offered, str) or not expected or not hmac.compare_digest(offered, expected):
        raise CsrfRefused()
