"""Log lines: JSON by default off a terminal, readable text when asked; ids bound per task."""

import asyncio
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from app import logs
from app.settings import load


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What reached stderr; the handler is made inside the test, where stderr is captured."""
    yield lambda: capsys.readouterr().err
    logs.configure("json")


def test_json_is_the_default_off_a_terminal(stderr: Callable[[], str]) -> None:
    logs.configure(load({}).log_format)
    logs.bind(request_id="req_1", payment_id="pay_1")
    logging.getLogger("dramatiq.worker").warning("a library's own %s", "line")
    logs.clear()

    line = json.loads(stderr())
    assert line["event"] == "a library's own line"
    assert (line["level"], line["request_id"], line["payment_id"]) == ("warning", "req_1", "pay_1")
    assert line["time"].endswith("Z")


def test_text_is_for_a_person(stderr: Callable[[], str]) -> None:
    logs.configure("text")
    logs.get_logger("paystream.test").info("payment.moved", step="charging")

    shown = stderr()
    assert "payment.moved" in shown and "step=charging" in shown
    with pytest.raises(json.JSONDecodeError):
        json.loads(shown)


def test_ids_bound_in_one_task_never_show_in_another(stderr: Callable[[], str]) -> None:
    logs.configure("json")
    log = logs.get_logger("paystream.test")

    async def message(payment_id: str, gate: asyncio.Event) -> None:
        logs.bind(payment_id=payment_id)
        await gate.wait()  # every task binds before any logs
        log.info("payment.step")

    async def many() -> None:
        gate = asyncio.Event()
        tasks = [asyncio.create_task(message(f"pay_{n}", gate)) for n in range(50)]
        await asyncio.sleep(0)
        gate.set()
        await asyncio.gather(*tasks)

    asyncio.run(many())
    lines = [json.loads(line) for line in stderr().splitlines()]
    assert sorted(line["payment_id"] for line in lines) == sorted(f"pay_{n}" for n in range(50))
