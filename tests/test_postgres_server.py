"""The private PostgreSQL helper: data survives stop, crash and restart; cleanup leaves nothing."""

import psycopg
import pytest

from tests.support.postgres_server import CONNECT_TIMEOUT_S, PostgresServer, is_live


def write_row(database_url: str) -> None:
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
        connection.execute("CREATE TABLE payments (id text PRIMARY KEY, amount_minor bigint)")
        connection.execute("INSERT INTO payments VALUES ('pay_1', 1250)")


def read_rows(database_url: str) -> list[tuple[str, int]]:
    with psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S) as connection:
        return connection.execute("SELECT id, amount_minor FROM payments").fetchall()


def test_a_committed_row_survives_stop_and_start(private_postgres: PostgresServer) -> None:
    database_url = private_postgres.create_database("ledger")
    write_row(database_url)

    private_postgres.stop()

    assert not private_postgres.is_running()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S)
    private_postgres.start()
    assert read_rows(database_url) == [("pay_1", 1250)]


def test_a_committed_row_survives_kill_and_cleanup_leaves_nothing(
    private_postgres: PostgresServer,
) -> None:
    database_url = private_postgres.create_database("ledger")
    write_row(database_url)
    pids_before_kill = private_postgres.process_ids()
    postmaster_pid = int((private_postgres.data_dir / "postmaster.pid").read_text().split()[0])
    assert postmaster_pid in pids_before_kill
    assert len(pids_before_kill) > 1, "the postmaster and its background workers"

    private_postgres.kill()

    # A pid of a process that ended by itself before the kill may already run something else
    # on a busy machine: what counts is that none of them is still this cluster's.
    survivors = [pid for pid in pids_before_kill if is_live(pid)]
    assert not set(survivors) & set(private_postgres.process_ids())
    assert not is_live(postmaster_pid)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(database_url, connect_timeout=CONNECT_TIMEOUT_S)
    private_postgres.start()
    assert "automatic recovery in progress" in private_postgres.log()
    assert read_rows(database_url) == [("pay_1", 1250)]

    pids_before_cleanup = private_postgres.process_ids()
    private_postgres.cleanup()

    assert pids_before_cleanup
    assert not any(is_live(pid) for pid in pids_before_cleanup)
    assert not private_postgres.folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(private_postgres.url, connect_timeout=CONNECT_TIMEOUT_S)
