"""Scale-out benchmark on a local Redis Cluster (3 masters, 3 replicas): settle with 1 vs 2
worker processes, ingest with web=1 vs web=2, and what waiting for a replica costs the accept.

    .venv/bin/python bench/scale_out.py [--payments 4000] [--worker-concurrency N]
                                        [--seconds 10] [--connections 64] [--rounds 2]
                                        [--skip-settle]

One simulator (provider latency 200 ms, uniform) and one cluster from
tests/support/redis_cluster.py serve the whole run; every figure is from this one run.

- settle: N payments accepted with no worker running, then the Procfile's worker line with
  WORKER_PROCESSES=1, then 2, drains them (bench/settlement/paystream.py: the clock runs from
  worker start until every recovery point is terminal, and every recorded payment must be
  charged exactly once). The same 1-process drain on a single redis-server gives the cost of
  the cluster itself. The cluster runs with REDIS_MIN_REPLICAS_ACKED=1, as the README
  recommends for one.
- ingest: wrk (bench/wrk_payments.lua, fresh Idempotency-Keys) against the Procfile's web line
  with WEB_CONCURRENCY=1, then 2, then web=1 with REDIS_MIN_REPLICAS_ACKED=1 (WAIT 1 after
  every accept); the three alternate for --rounds rounds and each keeps its best run.
"""

import argparse
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.merchants.api_keys import hash_api_key, new_api_key  # noqa: E402
from app.queue import keys  # noqa: E402
from app.queue.connection import tool_client  # noqa: E402
from bench.ingest import run_wrk  # noqa: E402
from bench.settle import PAYSTACK_PERCENT, start_simulator  # noqa: E402
from bench.settlement import paystream, simulator  # noqa: E402
from bench.settlement.figures import Drain  # noqa: E402
from bench.settlement.processes import procfile_process  # noqa: E402
from tests.support.processes import free_port, wait_for_http  # noqa: E402
from tests.support.redis_cluster import RedisCluster  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.simulator import FAULT_FREE, Simulator  # noqa: E402

PROVIDER_LATENCY = {"latency_distribution": "uniform", "latency_ms": 200, "latency_jitter_ms": 0}
PAYMENTS_DEFAULT = 4_000
SETTLE_TIMEOUT_S = 900.0
REPLICATED = {"REDIS_MIN_REPLICAS_ACKED": "1"}


def settle(
    redis_url: str,
    sim: Simulator,
    processes: int,
    options: argparse.Namespace,
    log_dir: Path,
    extra: dict[str, str],
) -> Drain:
    knobs = {"WORKER_PROCESSES": str(processes), "WORKER_THREADS": "", **extra}
    if options.worker_concurrency:
        knobs["WORKER_CONCURRENCY"] = str(options.worker_concurrency)
    why = f"{processes} process(es)"
    # Each drain checks the charges it caused: the simulator forgets the previous drain's.
    simulator.reset(sim)
    drain = paystream.run(
        (redis_url, sim.base_url),
        options.payments,
        PAYSTACK_PERCENT,
        (knobs, why),
        log_dir,
        SETTLE_TIMEOUT_S,
    )
    print(f"    drained at {drain.rate_per_s:.1f} payments/s", flush=True)
    return drain


def settle_runs(
    cluster_url: str,
    single_url: str,
    sim: Simulator,
    options: argparse.Namespace,
    log_dir: Path,
) -> dict[str, Drain]:
    print("== settle at 200 ms provider latency ==", flush=True)
    return {
        "cluster, 1 process": settle(cluster_url, sim, 1, options, log_dir, REPLICATED),
        "cluster, 2 processes": settle(cluster_url, sim, 2, options, log_dir, REPLICATED),
        "single Redis, 1 process": settle(single_url, sim, 1, options, log_dir, {}),
    }


def ingest(
    redis_url: str,
    web_processes: int,
    env: dict[str, str],
    options: argparse.Namespace,
    log_dir: Path,
) -> dict[str, float]:
    client = tool_client(redis_url)
    api_key = new_api_key()
    client.hset(keys.AUTH_KEY, hash_api_key(api_key), f"mer_bench{secrets.token_hex(4)}")
    client.close()
    port = free_port()
    web_env = {
        "REDIS_URL": redis_url,
        "WEB_CONCURRENCY": str(web_processes),
        **paystream.UNREACHED_ACCEPT_RATE,
        **env,
    }
    web = procfile_process("web", web_env, log_dir, port)
    url = f"http://127.0.0.1:{port}/v1/payments"
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", web)
        httpx.post(url, json={"amount": 1})  # warm the import caches
        time.sleep(0.5)
        return run_wrk(url, options.seconds, options.connections, api_key)
    finally:
        web.stop()


def ingest_rounds(
    redis_url: str, options: argparse.Namespace, log_dir: Path
) -> dict[str, dict[str, float]]:
    """Each configuration run in turn, ``--rounds`` times, keeping each one's best run: on a
    shared machine the load drifts within a run, and alternating keeps the drift from falling
    on one configuration only."""
    configurations = {"web=1": (1, {}), "web=2": (2, {}), "web=1, WAIT 1": (1, REPLICATED)}
    best: dict[str, dict[str, float]] = {}
    for _ in range(options.rounds):
        for name, (web_processes, env) in configurations.items():
            figures = ingest(redis_url, web_processes, env, options, log_dir)
            print(f"    {name}: {figures['rps']:.0f} req/s, p99 {figures['p99_ms']:.1f} ms")
            if name not in best or figures["rps"] > best[name]["rps"]:
                best[name] = figures
    return best


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=PAYMENTS_DEFAULT)
    parser.add_argument("--worker-concurrency", type=int, help="WORKER_CONCURRENCY per process")
    parser.add_argument("--seconds", type=int, default=10, help="per ingest run")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=2, help="ingest runs per configuration")
    parser.add_argument("--skip-settle", action="store_true", help="the ingest figures only")
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory() as scratch:
        log_dir = Path(scratch)
        process, sim = start_simulator(log_dir)
        cluster = RedisCluster(log_dir / "cluster")
        single = RedisServer(log_dir / "single", appendonly=True)
        try:
            drains = {}
            if not options.skip_settle:
                sim.configure(**{**FAULT_FREE, **PROVIDER_LATENCY})
                drains = settle_runs(cluster.url, single.url, sim, options, log_dir)
            print("== ingest on the cluster ==", flush=True)
            ingests = ingest_rounds(cluster.url, options, log_dir)
        finally:
            single.stop()
            cluster.stop()
            process.stop()
    report(drains, ingests, options)


def report(
    drains: dict[str, Drain], ingests: dict[str, dict[str, float]], options: argparse.Namespace
) -> None:
    if drains:
        report_settle(drains, options)
    report_ingest(ingests, options)


def report_settle(drains: dict[str, Drain], options: argparse.Namespace) -> None:
    concurrency = options.worker_concurrency or "default"
    print(f"\nsettle: {options.payments:,} payments, 200 ms latency, concurrency {concurrency}")
    print(f"{'run':<26}{'payments/s':>12}{'p50 s':>8}{'p99 s':>8}")
    for name, drain in drains.items():
        row = f"{name:<26}{drain.rate_per_s:>12.1f}"
        print(f"{row}{drain.latency_p50_s:>8.2f}{drain.latency_p99_s:>8.2f}")
    one, two = drains["cluster, 1 process"], drains["cluster, 2 processes"]
    single = drains["single Redis, 1 process"]
    print(f"2 / 1 worker processes on the cluster: {two.rate_per_s / one.rate_per_s:.2f}×")
    print(f"cluster / single Redis, 1 process: {one.rate_per_s / single.rate_per_s:.2f}×")


def report_ingest(ingests: dict[str, dict[str, float]], options: argparse.Namespace) -> None:
    rounds = f"best of {options.rounds}, alternated"
    print(f"\ningest: {options.connections} connections, {options.seconds} s each, {rounds}")
    print(f"{'run':<26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, figures in ingests.items():
        row = f"{name:<26}{figures['rps']:>10.0f}"
        print(f"{row}{figures['p50_ms']:>10.2f}{figures['p99_ms']:>10.2f}")
    web1, web2, wait = ingests["web=1"], ingests["web=2"], ingests["web=1, WAIT 1"]
    print(f"web=2 / web=1 throughput: {web2['rps'] / web1['rps']:.2f}×")
    print(f"WAIT 1 / no WAIT: throughput {wait['rps'] / web1['rps']:.2f}×, ", end="")
    print(f"p99 {wait['p99_ms'] / web1['p99_ms']:.2f}×")


if __name__ == "__main__":
    main()
