"""The console's pages: each reads through ``app.console.data`` and renders a template.

Blocking Redis and PostgreSQL reads run in a thread, so the web process's event loop (and the
accepts it serves) never waits on an operator's page."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from app.console import data, session, webhook_reads
from app.errors import NotFound
from app.payments.record import PAYMENT_STATUSES, view
from app.queue import keys, ops
from app.queue.dispatch import PAYMENTS_QUEUE
from app.settings import Settings

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
Read = TypeVar("Read")


def _when(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix_s))


def _id_time(object_id: str, prefix: str) -> str:
    created_ms = keys.created_ms(object_id, prefix)
    return _when(None if created_ms is None else created_ms / 1000)


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.globals["STATUSES"] = PAYMENT_STATUSES


def settings_of(request: Request) -> Settings:
    config: Settings = request.app.state.settings
    return config


async def read(request: Request, reader: Callable[..., Read], *args: Any) -> Read:
    """``reader(redis client, *args)`` in a thread, on a client of its own."""

    def run() -> Read:
        with data.redis_client(settings_of(request)) as client:
            return reader(client, *args)

    return await asyncio.to_thread(run)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    context |= {"csrf": session.csrf_token(request), "page": template.removesuffix(".html")}
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


async def payments(request: Request) -> Response:
    search = request.query_params.get("q", "").strip()
    if search:
        return RedirectResponse(request.url_for("console:payment", payment_id=search), 303)
    status = request.query_params.get("status") or None
    if status not in (None, *PAYMENT_STATUSES):
        status = None
    found = await read(request, data.payments, status)
    return render(request, "payments.html", payments=found, status=status)


async def payment(request: Request) -> Response:
    payment_id = request.path_params["payment_id"]
    partitions = settings_of(request).stream_partitions
    record = await read(request, data.payment, payment_id, partitions)
    if record is None:
        return render(request, "missing.html", 404, what=f"payment {payment_id}")
    refunds = await read(request, data.refunds_of, payment_id, partitions)
    letters = await read(request, data.dead_letters, partitions)
    trail = await read(request, data.timeline, payment_id, partitions)
    timeline = [
        ("accepted", _id_time(record.id, keys.PAYMENT_ID_PREFIX), "202 answered; queued"),
        *((entry.point, _when(entry.at), entry.note) for entry in trail),
        (record.step.value, "now", f"recovery point; public status {record.status}"),
    ]
    return render(
        request,
        "payment.html",
        record=record,
        public=view(record),
        timeline=timeline,
        refunds=refunds,
        dead=[letter for letter in letters if letter.object_id == payment_id],
        events=await webhook_reads.payment_events(request, payment_id),
    )


async def queue(request: Request) -> Response:
    rows = await read(request, data.queue, settings_of(request).stream_partitions)
    return render(request, "queue.html", rows=rows)


async def dead_letters(request: Request) -> Response:
    letters = await read(request, data.dead_letters, settings_of(request).stream_partitions)
    replayed = request.query_params.get("replayed")
    return render(request, "dead.html", letters=letters, replayed=replayed)


def _dead_address(request: Request) -> tuple[int, str]:
    partition = request.path_params["partition"]
    if not 0 <= partition < settings_of(request).stream_partitions:
        raise NotFound(f"No partition {partition}.")
    return partition, request.path_params["entry_id"]


async def dead_letter(request: Request) -> Response:
    """One dead message and the form that replays it: the confirmation step."""
    partition, entry_id = _dead_address(request)
    letter = await read(request, data.dead_letter, partition, entry_id)
    if letter is None:
        return render(request, "missing.html", 404, what=f"dead letter {partition}/{entry_id}")
    return render(request, "dead_letter.html", letter=letter, message=data.message_json(letter))


async def replay(request: Request) -> Response:
    await session.check_csrf(request)
    partition, entry_id = _dead_address(request)
    new_entry = await read(request, ops.replay, PAYMENTS_QUEUE, partition, entry_id)
    if new_entry is None:
        return render(request, "missing.html", 404, what=f"dead letter {partition}/{entry_id}")
    target = request.url_for("console:dead_letters").include_query_params(
        replayed=f"{partition}/{entry_id}"
    )
    return RedirectResponse(target, 303)


async def ledger(request: Request) -> Response:
    shown = await read(request, data.ledger, settings_of(request))
    return render(request, "ledger.html", ledger=shown)
