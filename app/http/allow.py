"""The ``Allow`` header of a 405: every method the path takes, over all its routes.

Starlette answers a wrong method with the first route whose path matched, so a path served by
two routes (``GET`` and ``POST /v1/payments``) would name only one; RFC 9110 wants them all.
"""

from starlette.requests import Request
from starlette.routing import Match, Route


def allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))
