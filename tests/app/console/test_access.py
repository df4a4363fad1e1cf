"""Who gets into the console: nobody without CONSOLE_TOKEN set; with it, only a session that
logged in with the token, and no changing form without the session's CSRF token."""

import dataclasses
import re
import secrets
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from app.console.session import SESSION_COOKIE
from app.main import create_app
from app.settings import Secret, Settings

TOKEN = secrets.token_urlsafe(32)
PATHS = [
    "/console",
    "/console/login",
    "/console/payments",
    "/console/queue",
    "/console/dead",
    "/console/ledger",
    "/console/payments/pay_x",
    "/console/static/console.css",
]


@pytest.fixture
def console(settings: Settings) -> Iterator[TestClient]:
    enabled = dataclasses.replace(settings, console_token=Secret(TOKEN))
    with TestClient(create_app(enabled), raise_server_exceptions=False) as client:
        yield client


def logged_in(client: TestClient) -> str:
    """Logs ``client`` in; the CSRF token of its session, read from a page's form."""
    answer = client.post("/console/login", data={"token": TOKEN})
    assert answer.status_code == 200, answer.text  # followed the redirect to the payments
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", PATHS)
def test_without_a_token_every_console_path_is_a_404(api: TestClient, path: str) -> None:
    assert api.get(path).status_code == 404
    assert api.post(path, data={"token": ""}).status_code in (404, 405)


def test_a_wrong_token_gets_no_session(console: TestClient) -> None:
    answer = console.post("/console/login", data={"token": "x" * 40}, follow_redirects=False)

    assert answer.status_code == 401
    assert "not the console" in answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert console.get("/console/queue", follow_redirects=False).status_code == 303


def test_pages_need_a_log_in(console: TestClient) -> None:
    for path in PATHS[2:-1]:
        answer = console.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/login")
    assert console.get("/console/static/console.css").status_code == 200


def test_the_session_cookie_is_signed_httponly_and_strict(console: TestClient) -> None:
    answer = console.post("/console/login", data={"token": TOKEN}, follow_redirects=False)

    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 303
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "path=/console" in cookie.lower()
    assert TOKEN not in cookie
    console.cookies.set(SESSION_COOKIE, "forged." + answer.cookies[SESSION_COOKIE][7:])
    assert console.get("/console/queue", follow_redirects=False).status_code == 303


def test_a_changing_form_without_its_csrf_token_is_refused(console: TestClient) -> None:
    csrf = logged_in(console)

    missing = console.post("/console/dead/0/1-0/replay", data={})
    wrong = console.post("/console/dead/0/1-0/replay", data={"csrf": csrf + "x"})
    logout = console.post("/console/logout", data={}, follow_redirects=False)
    right = console.post("/console/dead/0/1-0/replay", data={"csrf": csrf})

    assert [missing.status_code, wrong.status_code, logout.status_code] == [403, 403, 403]
    assert missing.json()["code"] == "csrf_refused"
    assert right.status_code == 404, "past CSRF: no such dead letter"


def test_every_page_answers_once_logged_in(console: TestClient) -> None:
    logged_in(console)

    for path in [
        "/console/payments?status=failed",
        "/console/queue",
        "/console/dead",
        "/console/ledger",
        "/console/payments/pay_unknown",
    ]:
        answer = console.get(path)
        assert answer.status_code in (200, 404), (path, answer.text)
        assert "text/html" in answer.headers["content-type"]
