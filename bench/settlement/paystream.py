"""paystream's drain: accept N payments through the Procfile's web line with no worker
running, start the Procfile's worker line, and watch until every payment is terminal.

Watched as the naive peer is, through its database: every final move publishes its event, which
the worker writes to PostgreSQL; the clock stops once all N are there (so it runs until each
payment is terminal and its event relayed), and each payment's terminal moment is its event's
own timestamp, taken in the move's step. Polling every payment's record in Redis instead cost
the harness a third of a core at 0 ms, and Redis as much, taken from the worker it measured.
Once the clock has stopped, every record is read from Redis once: all must be terminal."""

import collections
import functools
import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

# The only app internals the harness reads, kept to this one place: where a payment's record
# lives, which recovery points are final, and how many payments a worker keeps in flight.
from app.payments.record import Step
from app.queue.connection import SyncClient, tool_client
from app.queue.keys import PAYMENT_ID_PREFIX, partition_of, payment_key
from app.settings import WORKER_CONCURRENCY
from bench.payment_mix import CUSTOMER_EMAIL, bench_payment
from bench.settlement import simulator
from bench.settlement.databases import create_database, drop_database
from bench.settlement.figures import Drain, percentile
from bench.settlement.processes import (
    ensure_running,
    expanded,
    procfile_line,
    procfile_process,
    venv_path,
)
from bench.worker_usage import WorkerSampler, WorkerUsage
from tests.conftest import migrate
from tests.support.processes import Process, free_port, wait_for_http
from tests.support.simulator import Simulator
from tests.support.stack import cli

#: The record's hash field that holds its recovery point.
STEP_FIELD = "step"
TERMINAL_STEP_NAMES = frozenset(step.value for step in Step if step.final)
RECORDED_STEP_NAME = "recorded"
#: Ids carry their partition in two hex digits; partition_of only checks it is below this.
STREAM_PARTITIONS_MAX = 256
#: Concurrent HTTP clients accepting the backlog, each a thread with its own httpx.Client.
SENDER_THREADS = 32
REQUEST_TIMEOUT_S = 30.0
#: How often the events table is counted; one cheap query.
POLL_INTERVAL_S = 0.25
#: The events a payment's final moves publish.
TERMINAL_EVENT_TYPES = ("payment.succeeded", "payment.failed")
COUNT_SQL = "SELECT count(*) FROM events WHERE type = ANY(%s)"
TERMINAL_SQL = "SELECT payment_id, created_ms FROM events WHERE type = ANY(%s)"
#: 0 is "no limit" for every provider rate (app/settings.py); DESIGN §7 lifts them for the run.
UNLIMITED_PROVIDER_RATES = {
    "STRIPE_ACCOUNT_RATE_PER_S": "0",
    "PAYSTACK_ACCOUNT_RATE_PER_S": "0",
    "STRIPE_RATE_PER_S": "0",
    "PAYSTACK_RATE_PER_S": "0",
}

#: One merchant sends the whole backlog: its accept rate is set far above any rate reached, so
#: the bucket is checked on every accept, as in production, and never refuses one.
UNREACHED_ACCEPT_RATE = {"MERCHANT_ACCEPT_RATE_PER_S": "10000000"}

#: A payment's terminal moment (unix s, its event's) and its terminal step.
Settled = dict[str, tuple[float, str]]


@dataclass(frozen=True)
class Watched:
    """What watching the worker drain the backlog saw; moments in unix seconds."""

    started: float
    finished: float
    settled: Settled
    workers: WorkerUsage
    harness_cpu_s: float


def paystream_env(redis_url: str, database_url: str, simulator_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": simulator_url,
        "PAYSTACK_API_BASE": simulator_url,
        **UNLIMITED_PROVIDER_RATES,
        **UNREACHED_ACCEPT_RATE,
        "PATH": venv_path(),
    }


def payment_body(index: int, paystack_percent: int) -> dict[str, object]:
    payment = bench_payment(index, paystack_percent)
    return {
        "amount": payment.amount,
        "currency": payment.currency,
        "provider": payment.provider,
        "payment_method": payment.payment_method,
        "customer": {"email": CUSTOMER_EMAIL},
    }


def send_payments(
    base_url: str, api_key: str, prefix: str, paystack_percent: int, indices: Sequence[int]
) -> list[tuple[str, float]]:
    """Each payment's id and when its 202 came back (unix s)."""
    accepted = []
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        for index in indices:
            body = payment_body(index, paystack_percent)
            key = {"Idempotency-Key": f"{prefix}-{index}"}
            response = client.post("/v1/payments", json=body, headers=key)
            if response.status_code != 202:
                raise RuntimeError(f"payment {index}: {response.status_code} {response.text}")
            accepted.append((str(response.json()["id"]), time.time()))
    return accepted


def accept_payments(
    base_url: str, api_key: str, count: int, paystack_percent: int
) -> dict[str, float]:
    prefix = f"settle-{secrets.token_hex(4)}"
    send = functools.partial(send_payments, base_url, api_key, prefix, paystack_percent)
    slices = [range(start, count, SENDER_THREADS) for start in range(SENDER_THREADS)]
    with ThreadPoolExecutor(max_workers=SENDER_THREADS) as pool:
        accepted = dict(pair for part in pool.map(send, slices) for pair in part)
    if len(accepted) != count:
        raise RuntimeError(f"{count} payments sent, {len(accepted)} distinct ids came back")
    return accepted


def create_merchant(env: dict[str, str]) -> str:
    created = cli(env, "merchant", "create", "bench", "--json")
    if created.returncode != 0:
        raise RuntimeError(f"merchant create failed:\n{created.stderr}")
    return str(json.loads(created.stdout)["api_key"])


def accept_backlog(
    env: dict[str, str], count: int, paystack_percent: int, log_dir: Path
) -> dict[str, float]:
    """N payments accepted through the Procfile's web process while no worker runs."""
    port = free_port()
    web = procfile_process("web", env, log_dir, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", web)
        api_key = create_merchant(env)
        started = time.monotonic()
        accepted = accept_payments(f"http://127.0.0.1:{port}", api_key, count, paystack_percent)
        elapsed_s = time.monotonic() - started
    finally:
        web.stop()
    rate = count / elapsed_s
    print(f"    accepted {count:,} in {elapsed_s:.1f} s ({rate:,.0f}/s), no worker", flush=True)
    return accepted


def record_key(payment_id: str) -> str:
    partition = partition_of(payment_id, PAYMENT_ID_PREFIX, STREAM_PARTITIONS_MAX)
    if partition is None:
        raise ValueError(f"{payment_id} is not a payment id")
    return payment_key(partition, payment_id)


def terminal_steps(client: SyncClient, payment_ids: Sequence[str]) -> dict[str, str]:
    """Every payment's recovery point, one pipelined HGET each: all must be terminal."""
    pipeline = client.pipeline(transaction=False)
    for payment_id in payment_ids:
        pipeline.hget(record_key(payment_id), STEP_FIELD)
    steps = {}
    for payment_id, step in zip(payment_ids, pipeline.execute(), strict=True):
        if step is None:
            raise RuntimeError(f"payment {payment_id} has no record in Redis: lost")
        if step.decode() not in TERMINAL_STEP_NAMES:
            raise RuntimeError(f"payment {payment_id} is {step.decode()}, yet its event is out")
        steps[payment_id] = step.decode()
    return steps


def poll_events(database_url: str, count: int, worker: Process, deadline: float) -> float:
    """When (unix s) the events table first held ``count`` terminal events."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            ensure_running(worker)
            polled = time.monotonic()
            row = connection.execute(COUNT_SQL, (list(TERMINAL_EVENT_TYPES),)).fetchone()
            stored = 0 if row is None else int(row[0])
            if stored >= count:
                return time.time()
            if polled > deadline:
                raise TimeoutError(f"{stored} of {count} terminal:\n{worker.log()[-4000:]}")
            time.sleep(max(0.0, POLL_INTERVAL_S - (time.monotonic() - polled)))


def terminal_moments(database_url: str) -> dict[str, float]:
    """Each payment's terminal moment (unix s): its final event's, stamped in the move's step."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(TERMINAL_SQL, (list(TERMINAL_EVENT_TYPES),)).fetchall()
    moments: dict[str, float] = {}
    for payment_id, created_ms in rows:
        if payment_id in moments:
            raise RuntimeError(f"payment {payment_id} has two final events")
        moments[payment_id] = created_ms / 1000
    return moments


def drain(
    env: dict[str, str], payment_ids: Sequence[str], log_dir: Path, timeout_s: float
) -> Watched:
    """Start the Procfile's worker and watch it until every payment is terminal."""
    cpu_started_s = time.process_time()
    started = time.time()
    worker = procfile_process("worker", env, log_dir, free_port())
    sampler = WorkerSampler(worker.popen.pid)
    try:
        deadline = time.monotonic() + timeout_s
        finished = poll_events(env["DATABASE_URL"], len(payment_ids), worker, deadline)
    finally:
        workers = sampler.stop()
        worker.stop()
    harness_cpu_s = time.process_time() - cpu_started_s
    # A Redis Cluster too: the scale-out benchmark drains on one.
    client = tool_client(env["REDIS_URL"])
    try:
        steps = terminal_steps(client, payment_ids)
    finally:
        client.close()
    moments = terminal_moments(env["DATABASE_URL"])
    if moments.keys() != set(payment_ids):
        raise RuntimeError(f"{len(moments)} final events for {len(payment_ids)} payments")
    settled = {payment_id: (moments[payment_id], steps[payment_id]) for payment_id in payment_ids}
    return Watched(started, finished, settled, workers, harness_cpu_s)


def recorded_ids(settled: Settled) -> set[str]:
    return {payment_id for payment_id, (_, step) in settled.items() if step == RECORDED_STEP_NAME}


def shape_of(command: str) -> str:
    """Processes × messages in flight per process, as the worker line and its environment say
    (Dramatiq starts one process per CPU when the line names no count)."""
    found = re.search(r"--processes (\d+)", command)
    processes = found.group(1) if found else f"{os.cpu_count()} (one per CPU)"
    return f"{processes} × {os.environ.get('WORKER_CONCURRENCY', WORKER_CONCURRENCY)} in flight"


def figures(accepted: dict[str, float], watched: Watched, shape: str) -> Drain:
    settled = watched.settled
    latencies = [settled[payment_id][0] - accepted[payment_id] for payment_id in accepted]
    seen = [moment for moment, _ in settled.values()]
    return Drain(
        count=len(accepted),
        seconds=watched.finished - watched.started,
        first_s=min(seen) - watched.started,
        latency_p50_s=percentile(latencies, 0.50),
        latency_p99_s=percentile(latencies, 0.99),
        workers=watched.workers,
        shape=shape,
        harness_cpu_s=watched.harness_cpu_s,
    )


def run(
    urls: tuple[str, str],
    count: int,
    paystack_percent: int,
    knobs: tuple[dict[str, str], str],
    log_dir: Path,
    timeout_s: float,
) -> Drain:
    """``urls``: the private Redis and the simulator; ``knobs``: the worker's Procfile
    variables and why they were chosen."""
    redis_url, simulator_url = urls
    database_url = create_database()
    try:
        migrate(database_url)
        env = {**paystream_env(redis_url, database_url, simulator_url), **knobs[0]}
        accepted = accept_backlog(env, count, paystack_percent, log_dir)
        command = expanded(procfile_line("worker"), env)
        print(f"    worker: the Procfile's line → `{command}` ({knobs[1]})", flush=True)
        watched = drain(env, list(accepted), log_dir, timeout_s)
    finally:
        drop_database(database_url)
    steps = collections.Counter(step for _, step in watched.settled.values())
    seen = watched.workers.processes_max
    print(f"    all terminal: {dict(steps)}; {seen} worker process(es) seen", flush=True)
    simulator.check_charges(Simulator(simulator_url), recorded_ids(watched.settled))
    return figures(accepted, watched, shape_of(command))
