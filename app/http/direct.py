"""The busiest routes taken straight to their ASGI apps, ahead of Starlette's middleware stack
and router; every other request goes through them as usual.

A direct route is registered with the router too (where it is documented, and answers 405 to
other methods); here it is only found sooner, by exact method and path.
"""

from collections.abc import Sequence

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send


class DirectRoutes:
    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self.app = app
        self._routes = {
            (method, route.path): route for route in routes for method in route.methods or ()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self._routes.get((scope["method"], scope["path"]))
            if route is not None:
                # What the router would have set: the access line names the route by it.
                scope["route"] = route
                await route.app(scope, receive, send)
                return
        await self.app(scope, receive, send)
