"""Group commit of ledger entries from worker threads, on real PostgreSQL."""

import concurrent.futures
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine

from actors.group_commit import GroupCommit
from app.db import create_engine_for
from app.ledger import BusinessKeyConflict, Entry, Recorded, capture_entry, clearing_account
from tests.conftest import create_database, database_url_for, drop_database, migrate

THREADS = 24
QUEUE_WAIT_S_MAX = 10.0
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


def wait_for_queue(writer: GroupCommit, entries: int) -> None:
    deadline = time.monotonic() + QUEUE_WAIT_S_MAX
    while writer.queued < entries:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {writer.queued} of {entries} entries queued")
        time.sleep(0.01)


def wait_for_lock_waiter(connection: psycopg.Connection[tuple[int]]) -> None:
    deadline = time.monotonic() + QUEUE_WAIT_S_MAX
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    while (row := connection.execute(query).fetchone()) is None or row[0] < 1:
        if time.monotonic() > deadline:
            raise TimeoutError("no appender ever waited on the chain head")
        time.sleep(0.01)


def test_entries_recorded_together_share_one_batch_and_each_gets_its_own_answer(
    engine: Engine, database_url: str
) -> None:
    writer = GroupCommit(engine)
    with psycopg.connect(database_url) as blocker:
        # Hold the chain head: the first leader waits on it while every other thread queues.
        blocker.execute("SELECT seq FROM ledger_head FOR UPDATE")
        with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
            futures = {
                f"pay_{index}": pool.submit(writer.record, capture(f"pay_{index}"))
                for index in range(THREADS)
            }
            wait_for_queue(writer, THREADS - 1)
            blocker.rollback()
            answers: dict[str, Recorded] = {key: f.result() for key, f in futures.items()}

    assert writer.batches == 2
    for payment_id, recorded in answers.items():
        assert recorded.business_key == f"{payment_id}:payment_captured"
        assert recorded.created
    assert sorted(recorded.seq for recorded in answers.values()) == list(range(1, THREADS + 1))


def test_one_refused_entry_does_not_fail_the_others_in_its_batch(
    engine: Engine, database_url: str
) -> None:
    writer = GroupCommit(engine)
    writer.record(capture("pay_taken", amount=1000))
    with psycopg.connect(database_url) as blocker:
        blocker.execute("SELECT seq FROM ledger_head FOR UPDATE")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            first = pool.submit(writer.record, capture("pay_first"))
            wait_for_lock_waiter(blocker)  # the first thread now leads, stuck on the head
            conflicting = pool.submit(writer.record, capture("pay_taken", amount=999))
            good = pool.submit(writer.record, capture("pay_good"))
            wait_for_queue(writer, 2)
            blocker.rollback()

            assert first.result().created
            assert good.result().created
            with pytest.raises(BusinessKeyConflict):
                conflicting.result()


def test_a_database_outage_reaches_every_waiter() -> None:
    engine = create_engine_for(UNREACHABLE_DATABASE_URL)
    writer = GroupCommit(engine)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(writer.record, capture(f"pay_{i}")) for i in range(4)]
        errors = [future.exception() for future in futures]

    engine.dispose()
    assert all(error is not None for error in errors)
    assert writer.queued == 0
