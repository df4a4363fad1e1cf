"""The operators' console at /console: server-rendered pages (Jinja2 templates and one
stylesheet, shipped in the package; no script, no CDN, no build step), behind a token log-in.

Off the accept path: only ``app.main`` mounts it, and only when CONSOLE_TOKEN is set; with no
token there is no /console route at all, so every path under it is a 404.

A page is a handler in ``pages`` (or a module of its own) plus a line in ``PAGES`` (the
navigation) and in ``routes``.
"""

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from app.console import pages, session, webhooks
from app.settings import Settings

PREFIX = "/console"
#: The navigation: route name -> label.
PAGES = {
    "console:payments": "Payments",
    "console:queue": "Queue",
    "console:dead_letters": "Dead letters",
    "console:webhooks": "Webhooks",
    "console:ledger": "Ledger",
}
pages.TEMPLATES.env.globals["NAVIGATION"] = PAGES


async def login_form(request: Request) -> Response:
    return pages.render(request, "login.html")


async def login(request: Request) -> Response:
    form = await request.form()
    offered = form.get("token")
    token = pages.settings_of(request).console_token
    if not isinstance(offered, str) or not session.token_matches(offered, token):
        return pages.render(request, "login.html", 401, refused=True)
    session.log_in(request)
    return RedirectResponse(request.url_for("console:payments"), 303)


async def logout(request: Request) -> Response:
    await session.check_csrf(request)
    request.session.clear()
    return RedirectResponse(request.url_for("console:login_form"), 303)


class RequireLogin:
    """Every console path but the log-in form and the stylesheet needs a session."""

    OPEN_PATHS = frozenset({"/login", "/static/console.css"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].removeprefix(PREFIX)
        needs_login = scope["type"] == "http" and path not in self.OPEN_PATHS
        if needs_login and not session.logged_in(Request(scope)):
            await RedirectResponse(f"{PREFIX}/login", 303)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def routes() -> list[Route | Mount]:
    return [
        Route("/", pages.payments, methods=["GET"], name="console:home"),
        Route("/login", login_form, methods=["GET"], name="console:login_form"),
        Route("/login", login, methods=["POST"], name="console:login"),
        Route("/logout", logout, methods=["POST"], name="console:logout"),
        Route("/payments", pages.payments, methods=["GET"], name="console:payments"),
        Route("/payments/{payment_id}", pages.payment, methods=["GET"], name="console:payment"),
        Route("/queue", pages.queue, methods=["GET"], name="console:queue"),
        Route("/dead", pages.dead_letters, methods=["GET"], name="console:dead_letters"),
        Route(
            "/dead/{partition:int}/{entry_id}",
            pages.dead_letter,
            methods=["GET"],
            name="console:dead_letter",
        ),
        Route(
            "/dead/{partition:int}/{entry_id}/replay",
            pages.replay,
            methods=["POST"],
            name="console:replay",
        ),
        Route("/ledger", pages.ledger, methods=["GET"], name="console:ledger"),
        # Webhooks: endpoints, failing deliveries, one event's attempts and its resend.
        Route("/webhooks", webhooks.webhooks, methods=["GET"], name="console:webhooks"),
        Route("/events/{event_id}", webhooks.event, methods=["GET"], name="console:event"),
        Route(
            "/events/{event_id}/resend", webhooks.resend, methods=["POST"], name="console:resend"
        ),
        Mount("/static", StaticFiles(packages=[("app.console", "static")]), name="console:static"),
    ]


def console(settings: Settings) -> list[Mount]:
    """The /console mount, or nothing when no CONSOLE_TOKEN is set."""
    if not settings.console_token:
        return []
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=session.signing_key(settings.console_token),
            session_cookie=session.SESSION_COOKIE,
            max_age=session.SESSION_MAX_AGE_S,
            path=PREFIX,
            same_site="strict",
        ),
        Middleware(RequireLogin),
    ]
    return [Mount(PREFIX, routes=routes(), middleware=middleware)]
