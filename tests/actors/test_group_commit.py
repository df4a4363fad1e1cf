"""Group commit of ledger entries from a worker's messages in flight, on real PostgreSQL."""

import asyncio
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from actors.group_commit import GroupCommit, ledger_writer
from app.db import create_engine_for
from app.ledger import BusinessKeyConflict, Entry, Recorded, capture_entry, clearing_account
from tests.conftest import create_database, database_url_for, drop_database, migrate

pytestmark = pytest.mark.anyio

MESSAGES = 24
QUEUE_WAIT_S_MAX = 10.0
POLL_INTERVAL_S = 0.01
UNREACHABLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:1/nowhere"


@pytest.fixture
def database_url() -> Iterator[str]:
    name = create_database()
    url = database_url_for(name)
    migrate(url)
    yield url
    drop_database(name)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


def capture(payment_id: str, amount: int = 1000) -> Entry:
    return capture_entry(
        payment_id=payment_id,
        merchant_id="mer_a",
        clearing_account=clearing_account("stripe", "usd"),
        amount=amount,
        currency="usd",
    )


async def wait_for_queue(writer: GroupCommit[Entry, Recorded], entries: int) -> None:
    deadline = time.monotonic() + QUEUE_WAIT_S_MAX
    while writer.queued < entries:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {writer.queued} of {entries} entries queued")
        await asyncio.sleep(POLL_INTERVAL_S)


def lock_waiters(connection: psycopg.Connection[tuple[int]]) -> int:
    # Activity is read once per transaction unless its snapshot is cleared.
    connection.execute("SELECT pg_stat_clear_snapshot()")
    row = connection.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    ).fetchone()
    return row[0] if row else 0


async def wait_for_lock_waiter(connection: psycopg.Connection[tuple[int]]) -> None:
    deadline = time.monotonic() + QUEUE_WAIT_S_MAX
    while lock_waiters(connection) < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("no appender ever waited on the chain head")
        await asyncio.sleep(POLL_INTERVAL_S)


async def test_entries_recorded_together_share_one_batch_and_each_gets_its_own_answer(
    engine: Engine, database_url: str
) -> None:
    writer = ledger_writer(engine)
    with psycopg.connect(database_url) as blocker:
        # Hold the chain head: the first batch waits on it while every other message queues.
        blocker.execute("SELECT seq FROM ledger_head FOR UPDATE")
        tasks = {"pay_0": asyncio.create_task(writer.record(capture("pay_0")))}
        await wait_for_lock_waiter(blocker)
        for index in range(1, MESSAGES):
            tasks[f"pay_{index}"] = asyncio.create_task(writer.record(capture(f"pay_{index}")))
        await wait_for_queue(writer, MESSAGES - 1)
        blocker.rollback()
        answers: dict[str, Recorded] = {key: await task for key, task in tasks.items()}

    assert writer.batches == 2
    for payment_id, recorded in answers.items():
        assert recorded.business_key == f"{payment_id}:payment_captured"
        assert recorded.created
    assert sorted(recorded.seq for recorded in answers.values()) == list(range(1, MESSAGES + 1))


async def test_one_refused_entry_does_not_fail_the_others_in_its_batch(
    engine: Engine, database_url: str
) -> None:
    writer = ledger_writer(engine)
    await writer.record(capture("pay_taken", amount=1000))
    with psycopg.connect(database_url) as blocker:
        blocker.execute("SELECT seq FROM ledger_head FOR UPDATE")
        first = asyncio.create_task(writer.record(capture("pay_first")))
        await wait_for_lock_waiter(blocker)  # the first batch now waits on the head
        conflicting = asyncio.create_task(writer.record(capture("pay_taken", amount=999)))
        good = asyncio.create_task(writer.record(capture("pay_good")))
        await wait_for_queue(writer, 2)
        blocker.rollback()

        assert (await first).created
        assert (await good).created
        with pytest.raises(BusinessKeyConflict):
            await conflicting


async def test_a_database_outage_reaches_every_waiter() -> None:
    engine = create_engine_for(UNREACHABLE_DATABASE_URL)
    writer = ledger_writer(engine)

    outcomes = await asyncio.gather(
        *(writer.record(capture(f"pay_{i}")) for i in range(4)), return_exceptions=True
    )

    engine.dispose()
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
    assert writer.queued == 0
