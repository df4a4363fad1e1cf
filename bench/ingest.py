"""Ingest benchmark: POST /v1/payments against a bare Starlette endpoint, same server, one run.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 64]

Starts a private redis-server (AOF everysec, as production should run), uvicorn with
app.main:app and uvicorn with bench/bare_app.py (same flags), drives each with wrk using fresh
Idempotency-Keys, and prints requests/s, p50/p99 latency and the ratio: first with one uvicorn
worker each (web=1), then with two (web=2, the Procfile's WEB_CONCURRENCY=2), to show how each
scales with processes on this machine.
"""

import argparse
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.merchants.api_keys import hash_api_key, new_api_key  # noqa: E402
from app.queue import keys  # noqa: E402
from tests.support.processes import Process, free_port, python_argv, wait_for_http  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

WRK_THREADS = 2
UNREACHED_RATE_PER_S = 10_000_000
#: uvicorn worker processes of each run: one, then the two cores of the development machine.
WEB_PROCESSES = (1, 2)
#: Requests sent before each measured run, per process, to warm its import caches.
WARM_REQUESTS_PER_WORKER = 4
#: A pause after the warm-up, so its lazy work (first connections, GC) is over before wrk.
WARM_SETTLE_S = 0.5
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


def latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        raise ValueError(f"no {percentile}% line in wrk output:\n{text}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def run_wrk(url: str, seconds: int, connections: int, api_key: str) -> dict[str, float]:
    result = subprocess.run(
        [
            ensure_wrk(),
            f"-t{WRK_THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "wrk_payments.lua"),
            url,
        ],
        env={**os.environ, "API_KEY": api_key},
        capture_output=True,
        text=True,
        check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if rate is None or "Non-2xx" in result.stdout:
        raise RuntimeError(f"wrk run failed:\n{result.stdout}\n{result.stderr}")
    return {
        "rps": float(rate.group(1)),
        "p50_ms": latency_ms(result.stdout, "50"),
        "p99_ms": latency_ms(result.stdout, "99"),
    }


def serve(
    name: str, target: str, workers: int, env: dict[str, str], log_dir: Path
) -> tuple[Process, str]:
    port = free_port()
    argv = python_argv(
        *("-m", "uvicorn", target, "--port", str(port), "--workers", str(workers)),
        *("--no-access-log", "--log-level", "warning"),
    )
    process = Process(name, argv, env, log_dir)
    url = f"http://127.0.0.1:{port}/v1/payments"
    wait_for_http(url, process)
    for _ in range(workers * WARM_REQUESTS_PER_WORKER):
        httpx.post(url, json={"amount": 1})  # warm each process's import caches
    time.sleep(WARM_SETTLE_S)
    return process, url


@dataclass(frozen=True)
class Merchant:
    """One merchant on a private Redis, and the web process environment that serves it."""

    api_key: str
    env: dict[str, str]
    client: redis.Redis


@contextlib.contextmanager
def bench_merchant(log_dir: Path) -> Iterator[Merchant]:
    """A private redis-server (AOF everysec, as production should run) with one merchant.

    One merchant sends everything: its accept rate is set far above any rate reached, so the
    bucket is checked on every accept, as in production, and never refuses one."""
    server = RedisServer(log_dir / "redis", appendonly=True)
    client = redis.Redis.from_url(server.url)
    try:
        api_key = new_api_key()
        client.hset(keys.AUTH_KEY, hash_api_key(api_key), f"mer_bench{secrets.token_hex(4)}")
        env = {"REDIS_URL": server.url, "MERCHANT_ACCEPT_RATE_PER_S": str(UNREACHED_RATE_PER_S)}
        yield Merchant(api_key, env, client)
    finally:
        client.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, bench_merchant(Path(scratch)) as merchant:
        log_dir = Path(scratch)
        results: dict[tuple[str, int], dict[str, float]] = {}
        for workers in WEB_PROCESSES:
            for name, target in (("bare", "bench.bare_app:app"), ("paystream", "app.main:app")):
                process, url = serve(f"{name}-{workers}", target, workers, merchant.env, log_dir)
                try:
                    results[name, workers] = run_wrk(
                        url, args.seconds, args.connections, merchant.api_key
                    )
                finally:
                    process.stop()
        accepted = sum(merchant.client.xlen(keys.stream_key(p, "payments")) for p in range(8))
    report(results, args.connections, args.seconds, accepted)


def report(
    results: dict[tuple[str, int], dict[str, float]], connections: int, seconds: int, accepted: int
) -> None:
    print(f"ingest, {connections} connections, {seconds} s each")
    print(f"{'endpoint':<12}{'web':>4}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for (name, workers), figures in results.items():
        print(
            f"{name:<12}{workers:>4}{figures['rps']:>10.0f}"
            f"{figures['p50_ms']:>10.2f}{figures['p99_ms']:>10.2f}"
        )
    for workers in WEB_PROCESSES:
        ratio = results["paystream", workers]["rps"] / results["bare", workers]["rps"]
        print(f"web={workers}: paystream / bare throughput: {ratio:.0%}")
    for name in ("bare", "paystream"):
        scaling = results[name, WEB_PROCESSES[-1]]["rps"] / results[name, 1]["rps"]
        print(f"{name}: web={WEB_PROCESSES[-1]} / web=1: {scaling:.2f}x")
    print(f"payments stored: {accepted}")


if __name__ == "__main__":
    main()
