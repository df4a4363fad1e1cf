"""Ledger benchmark: hash-chained appends against a raw COPY of the same rows, and verify.

    .venv/bin/python bench/ledger.py [--entries 100000]

Creates a private database on the local server (TEST_ADMIN_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/postgres), migrates it with alembic, appends N capture
entries through ``app.ledger.append`` in batches of the writer's maximum, then COPYs the very
same rows (read back, so nothing is hashed) into identical tables without triggers in a scratch
schema, one transaction per batch, and finally runs ``verify``. Prints entries/s for each and
the append / raw COPY ratio; the database is dropped at the end.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.db import create_engine_for  # noqa: E402
from app.ledger import Entry, append, capture_entry, clearing_account, verify  # noqa: E402
from app.ledger.limits import ENTRIES_PER_BATCH_MAX  # noqa: E402

ADMIN_DATABASE_URL = os.environ.get(
    "TEST_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ENTRIES_DEFAULT = 100_000
#: Enough merchants and providers that accounts are not one hot row, as in production.
MERCHANTS_TOTAL = 100
PROVIDERS = ("stripe", "paystack")
SCRATCH_SCHEMA = "bench_raw"
TABLES = ("ledger_transactions", "ledger_postings")


def database_url_for(name: str) -> str:
    base, _, _ = ADMIN_DATABASE_URL.rpartition("/")
    return f"{base}/{name}"


def admin(statement: str) -> None:
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as connection:
        connection.execute(statement)


def migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )


def entries(count: int) -> list[Entry]:
    return [
        capture_entry(
            payment_id=f"pay_bench{index:012d}",
            merchant_id=f"mer_bench{index % MERCHANTS_TOTAL:04d}",
            clearing_account=clearing_account(PROVIDERS[index % len(PROVIDERS)], "usd"),
            amount=100 + index % 10_000,
            currency="usd",
        )
        for index in range(count)
    ]


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def time_append(url: str, to_append: list[Entry]) -> float:
    engine = create_engine_for(url)
    try:
        started = time.perf_counter()
        for batch in batches(to_append, ENTRIES_PER_BATCH_MAX):
            append(engine, batch)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def time_verify(url: str, count: int) -> float:
    engine = create_engine_for(url)
    try:
        started = time.perf_counter()
        report = verify(engine)
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    if not report.ok or report.entries_checked != count:
        raise SystemExit(f"verify failed: {report}")
    return elapsed


def create_scratch_tables(connection: psycopg.Connection[Any]) -> None:
    # INCLUDING ALL copies columns, defaults, constraints and indexes, but never triggers.
    connection.execute(f"CREATE SCHEMA {SCRATCH_SCHEMA}")
    for table in TABLES:
        connection.execute(
            f"CREATE TABLE {SCRATCH_SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)"
        )


def stored_batches(connection: psycopg.Connection[Any], count: int) -> list[tuple[bytes, bytes]]:
    """Each batch's rows as COPY text (transactions, postings), rendered by the server."""
    rendered = []
    for seq_min in range(1, count + 1, ENTRIES_PER_BATCH_MAX):
        bounds = f"BETWEEN {seq_min} AND {seq_min + ENTRIES_PER_BATCH_MAX - 1}"
        rendered.append(
            (
                copy_out(connection, f"SELECT * FROM ledger_transactions WHERE seq {bounds}"),
                copy_out(
                    connection, f"SELECT * FROM ledger_postings WHERE transaction_seq {bounds}"
                ),
            )
        )
    return rendered


def copy_out(connection: psycopg.Connection[Any], query: str) -> bytes:
    with connection.cursor() as cursor, cursor.copy(f"COPY ({query}) TO STDOUT") as copy:
        return b"".join([bytes(chunk) for chunk in copy])


def copy_in(connection: psycopg.Connection[Any], table: str, text: bytes) -> None:
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {SCRATCH_SCHEMA}.{table} FROM STDIN") as copy,
    ):
        copy.write(text)


def time_raw_copy(url: str, count: int) -> float:
    """The ceiling: the same rows, already rendered, one transaction per batch, no hashing."""
    with psycopg.connect(url, autocommit=True) as connection:
        create_scratch_tables(connection)
        rendered = stored_batches(connection, count)
        started = time.perf_counter()
        for transactions, postings in rendered:
            with connection.transaction():
                copy_in(connection, "ledger_transactions", transactions)
                copy_in(connection, "ledger_postings", postings)
        return time.perf_counter() - started


def report(count: int, append_s: float, raw_s: float, verify_s: float) -> None:
    rates = {
        "append (hash-chained)": count / append_s,
        "raw COPY (no hashing)": count / raw_s,
        "verify": count / verify_s,
    }
    print(f"{count} entries, batches of {ENTRIES_PER_BATCH_MAX}")
    print(f"{'':24}{'seconds':>10}{'entries/s':>12}")
    for (name, rate), seconds in zip(rates.items(), (append_s, raw_s, verify_s), strict=True):
        print(f"{name:24}{seconds:10.2f}{rate:12,.0f}")
    ratio = rates["append (hash-chained)"] / rates["raw COPY (no hashing)"]
    print(f"append / raw COPY: {ratio:.0%}")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--entries", type=int, default=ENTRIES_DEFAULT)
    count = arguments.parse_args().entries
    if count < 1:
        raise SystemExit("--entries must be at least 1")
    name = f"paystream_bench_{secrets.token_hex(6)}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        url = database_url_for(name)
        migrate(url)
        to_append = entries(count)
        append_s = time_append(url, to_append)
        raw_s = time_raw_copy(url, count)
        verify_s = time_verify(url, count)
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    report(count, append_s, raw_s, verify_s)


if __name__ == "__main__":
    main()
