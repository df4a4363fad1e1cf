"""The naive peer's drain (bench/naive_peer): enqueue N payments with no peer worker running,
start stock Dramatiq with its defaults, and count the peer's rows until all N exist."""

import os
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from bench.settlement import simulator
from bench.settlement.databases import create_database, drop_database
from bench.settlement.figures import Drain
from bench.settlement.processes import ensure_running
from bench.worker_usage import WorkerSampler
from tests.support.processes import ROOT, Process, python_argv
from tests.support.simulator import Simulator

#: The peer's broker lives in its own database of the private Redis.
PEER_REDIS_DB = 1
#: Dramatiq's own default, which the peer keeps (with one process per CPU).
DRAMATIQ_THREADS_DEFAULT = 8
POLL_INTERVAL_S = 0.1
COUNT_SQL = "SELECT count(*) FROM naive_payments"
FIGURES_SQL = """
SELECT
    percentile_disc(0.50) WITHIN GROUP (ORDER BY inserted_at - enqueued_at),
    percentile_disc(0.99) WITHIN GROUP (ORDER BY inserted_at - enqueued_at),
    array_agg(payment_id)
FROM naive_payments
"""


def peer_env(redis_port: int, database_url: str, simulator_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/{PEER_REDIS_DB}",
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": simulator_url,
        "PAYSTACK_API_BASE": simulator_url,
        "STRIPE_SECRET_KEY": simulator.SECRET_KEY,
        "PAYSTACK_SECRET_KEY": simulator.SECRET_KEY,
    }


def enqueue(env: dict[str, str], count: int, paystack_percent: int) -> None:
    argv = python_argv(
        "-m",
        "bench.naive_peer.enqueue",
        "--count",
        str(count),
        "--prefix",
        f"peer_{secrets.token_hex(4)}",
        "--paystack-percent",
        str(paystack_percent),
    )
    done = subprocess.run(argv, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"peer enqueue failed:\n{done.stderr}")


def poll_rows(database_url: str, count: int, worker: Process, deadline: float) -> list[float]:
    """When the peer's table first held a row, and when it first held ``count``."""
    seen: list[float] = []
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            ensure_running(worker)
            polled = time.monotonic()
            row = connection.execute(COUNT_SQL).fetchone()
            stored = 0 if row is None else int(row[0])
            if stored > 0 and not seen:
                seen.append(time.monotonic())
            if stored >= count:
                return [*seen, time.monotonic()]
            if polled > deadline:
                raise TimeoutError(f"the peer stored {stored} of {count}:\n{worker.log()[-4000:]}")
            time.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - polled)))


def stored_figures(database_url: str) -> tuple[float, float, set[str]]:
    """Enqueue→INSERT latency p50 and p99 (s), and the payment ids stored."""
    with psycopg.connect(database_url) as connection:
        row: Any = connection.execute(FIGURES_SQL).fetchone()
    p50, p99, payment_ids = row
    return p50.total_seconds(), p99.total_seconds(), set(payment_ids)


def run(
    redis_port: int,
    simulator_url: str,
    count: int,
    paystack_percent: int,
    log_dir: Path,
    timeout_s: float,
) -> Drain:
    url = create_database()
    try:
        env = peer_env(redis_port, url, simulator_url)
        enqueue(env, count, paystack_percent)
        print(f"    enqueued {count:,}; `python -m dramatiq bench.naive_peer` (no flags)")
        cpu_started_s = time.process_time()
        started = time.monotonic()
        worker = Process("peer", python_argv("-m", "dramatiq", "bench.naive_peer"), env, log_dir)
        sampler = WorkerSampler(worker.popen.pid)
        try:
            first, finished = poll_rows(url, count, worker, started + timeout_s)
        finally:
            workers = sampler.stop()
            worker.stop()
        harness_cpu_s = time.process_time() - cpu_started_s
        p50, p99, payment_ids = stored_figures(url)
    finally:
        drop_database(url)
    print(
        f"    all {count:,} rows stored; {workers.processes_max} worker process(es) seen",
        flush=True,
    )
    simulator.check_charges(Simulator(simulator_url), payment_ids)
    shape = f"{os.cpu_count()} × {DRAMATIQ_THREADS_DEFAULT}"
    seconds = finished - started
    return Drain(count, seconds, first - started, p50, p99, workers, shape, harness_cpu_s)
