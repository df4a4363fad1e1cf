"""The yardstick: a bare Starlette endpoint that parses the JSON body and answers 202."""

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def create_payment(request: Request) -> Response:
    body = json.loads(await request.body())
    return Response(json.dumps({"amount": body["amount"]}), 202, media_type="application/json")


app = Starlette(routes=[Route("/v1/payments", create_payment, methods=["POST"])])
