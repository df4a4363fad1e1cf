"""Settlement benchmark: a backlog of accepted payments drained by the Procfile's worker, next to
a naive stock-Dramatiq peer and the provider simulator's own ceiling, per provider latency.

    .venv/bin/python bench/settle.py [--cases 0ms,200ms,lognormal] [--payments N]
                                     [--worker-processes K] [--skip-peer]

One simulator process serves every run; each case sets its latency with `POST /_sim/config`
(0ms: none; 200ms: uniform 200 ms, no jitter; lognormal: median 200 ms, p99 1,000 ms) and runs,
with N payments of which one in ten goes to Paystack:

- paystream (bench/settlement/paystream.py): a private redis-server (AOF everysec, as
  production should run) and a fresh migrated database. The Procfile's `web:` line, run by
  `sh -c` as a platform runs it, accepts N payments from 32 concurrent clients while no worker
  runs; then the Procfile's `worker:` line starts the same way, provider rate limits lifted,
  and the clock runs from its start until every payment's final event is in PostgreSQL (the
  events table counted every 250 ms). Accept→terminal latency runs from each payment's 202 to
  its final event's own timestamp. RSS and CPU: VmRSS and user + system time of the forked
  Dramatiq worker processes, sampled every 200 ms; the CPU per payment includes their
  start-up and their master's CPU (it imports the actors before it forks them). Every payment
  must end terminal in Redis and every recorded one charged exactly once (`GET
  /_sim/charges`), or the run stops without a figure.
- the naive peer (bench/naive_peer, driven by bench/settlement/peer.py): stock Dramatiq on the
  same Redis (db 1) with its default processes and threads, the same N payments enqueued first,
  one actor per payment (create + confirm over sync httpx, one INSERT); the clock runs from
  worker start until N rows exist. Its charges are checked the same way.
- the ceiling (bench/settlement/simulator.py): wrk drives the simulator directly with
  paystream's per-payment provider calls for 5 s: the payments/s the simulator itself serves.

Defaults: N = 10,000 at 0ms and 6,000 otherwise (so a worker's boot, about a second, is a small
part of its drain, and the peer's drain still ends); the 0ms case runs the Procfile's worker
defaults, the 200ms and lognormal cases WORKER_PROCESSES=1 (DESIGN §7 asks for one worker
process there).
"""

import argparse
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.settlement import paystream, peer, simulator  # noqa: E402
from bench.settlement.figures import Ceiling, Drain  # noqa: E402
from tests.support.processes import Process, free_port, python_argv, wait_for_http  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.simulator import FAULT_FREE, Simulator  # noqa: E402

#: Payments of every hundred charged through Paystack (one call) rather than Stripe (two).
PAYSTACK_PERCENT = 10
SETTLE_TIMEOUT_S_DEFAULT = 1_800
#: Enough open connections that, at 200 ms a call, latency does not cap the ceiling first
#: (on the 2-core machine: ~1,400 payments/s at 200 ms with 1,024, fewer with 512 or 2,048).
CEILING_CONNECTIONS = 1024


@dataclass(frozen=True)
class LatencyCase:
    name: str
    description: str
    #: What `POST /_sim/config` sets over a fault-free simulator.
    latency: dict[str, object]
    #: DESIGN §7 states this case's figure for ONE worker process.
    one_worker_process: bool
    #: Enough that a worker's boot is a small part of its drain, and the peer's still ends.
    payments_default: int


CASES = {
    "0ms": LatencyCase("0ms", "no provider latency", {"latency_ms": 0}, False, 10_000),
    "200ms": LatencyCase(
        "200ms",
        "provider latency 200 ms, uniform, no jitter",
        {"latency_distribution": "uniform", "latency_ms": 200, "latency_jitter_ms": 0},
        True,
        6_000,
    ),
    "lognormal": LatencyCase(
        "lognormal",
        "provider latency lognormal, median 200 ms, p99 1,000 ms",
        {"latency_distribution": "lognormal", "latency_ms": 200, "latency_p99_ms": 1000},
        True,
        6_000,
    ),
}


@dataclass(frozen=True)
class CaseResult:
    case: LatencyCase
    paystream: Drain
    peer: Drain | None
    ceiling: Ceiling


def worker_knobs(case: LatencyCase, processes: int | None) -> tuple[dict[str, str], str]:
    """The worker line's Procfile variables, and why; empty is unset for `${VAR:-default}`, so
    a value in the caller's own environment cannot leak in."""
    if processes is not None:
        return {"WORKER_PROCESSES": str(processes), "WORKER_THREADS": ""}, "--worker-processes"
    if case.one_worker_process:
        return {"WORKER_PROCESSES": "1", "WORKER_THREADS": ""}, "one process, as DESIGN §7"
    return {"WORKER_PROCESSES": "", "WORKER_THREADS": ""}, "the Procfile's defaults"


def run_case(
    case: LatencyCase, sim: Simulator, options: argparse.Namespace, log_dir: Path
) -> CaseResult:
    count = options.payments or case.payments_default
    print(f"\n== {case.name}: {case.description}; {count:,} payments ==", flush=True)
    sim.configure(**{**FAULT_FREE, **case.latency})
    redis_server = RedisServer(log_dir / f"redis-{case.name}", appendonly=True)
    try:
        simulator.reset(sim)
        print("  paystream", flush=True)
        knobs = worker_knobs(case, options.worker_processes)
        urls = (redis_server.url, sim.base_url)
        ours = paystream.run(urls, count, PAYSTACK_PERCENT, knobs, log_dir, options.timeout_s)
        theirs = None
        if not options.skip_peer:
            simulator.reset(sim)
            print("  naive peer", flush=True)
            theirs = peer.run(
                redis_server.port, sim.base_url, count, PAYSTACK_PERCENT, log_dir, options.timeout_s
            )
    finally:
        redis_server.stop()
    print("  simulator ceiling", flush=True)
    result = CaseResult(
        case, ours, theirs, simulator.ceiling(sim, PAYSTACK_PERCENT, options.ceiling_connections)
    )
    report_case(result)
    return result


ROW_NAMES = (
    "payments/s",
    "drain s (worker start → all terminal)",
    "worker start → first terminal s",
    "accept→terminal p50 s",
    "accept→terminal p99 s",
    "peak RSS, busiest worker process MiB",
    "peak RSS, all worker processes MiB",
    "worker CPU per payment, ms (all processes)",
    "worker processes × threads",
    "harness CPU while draining, % of a core",
)


def rows_of(drain: Drain | None) -> list[str]:
    if drain is None:
        return ["skipped"] * len(ROW_NAMES)
    return [
        f"{drain.rate_per_s:.1f}",
        f"{drain.seconds:.1f}",
        f"{drain.first_s:.1f}",
        f"{drain.latency_p50_s:.2f}",
        f"{drain.latency_p99_s:.2f}",
        f"{drain.workers.single_mib:.0f}",
        f"{drain.workers.total_mib:.0f}",
        f"{drain.cpu_ms_per_payment:.2f}",
        drain.shape,
        f"{drain.harness_cpu_percent:.0f}",
    ]


def ratio(result: CaseResult) -> str:
    if result.peer is None:
        return "—"
    return f"{result.paystream.rate_per_s / result.peer.rate_per_s:.2f}×"


def report_case(result: CaseResult) -> None:
    title = f"{result.case.name}: {result.paystream.count:,} payments"
    print(f"\n  {title:40}{'paystream':>12}{'naive peer':>12}")
    for name, ours, theirs in zip(
        ROW_NAMES, rows_of(result.paystream), rows_of(result.peer), strict=True
    ):
        print(f"  {name:40}{ours:>12}{theirs:>12}")
    print(f"  {'paystream / peer':40}{ratio(result):>12}")
    print(f"  {'simulator ceiling payments/s':40}{result.ceiling.rate_per_s:>12,.0f}")
    print(f"    ceiling measured with {result.ceiling.method}", flush=True)


def report_summary(results: list[CaseResult]) -> None:
    print(f"\nsettle: {PAYSTACK_PERCENT} % Paystack, provider rate limits lifted")
    header = ("case", "N", "paystream/s", "peer/s", "ratio", "p50 s", "p99 s", "RSS MiB", "sim/s")
    print("".join(f"{column:>12}" for column in header))
    for result in results:
        ours, theirs = result.paystream, result.peer
        cells = (
            result.case.name,
            f"{ours.count:,}",
            f"{ours.rate_per_s:.1f}",
            f"{theirs.rate_per_s:.1f}" if theirs else "—",
            ratio(result),
            f"{ours.latency_p50_s:.2f}",
            f"{ours.latency_p99_s:.2f}",
            f"{ours.workers.single_mib:.0f}",
            f"{result.ceiling.rate_per_s:,.0f}",
        )
        print("".join(f"{cell:>12}" for cell in cells))
    print("(RSS: the busiest single worker process, at its peak)")


def start_simulator(log_dir: Path) -> tuple[Process, Simulator]:
    port = free_port()
    process = Process(
        "simulator", python_argv("-m", "app.simulator", "--port", str(port)), {}, log_dir
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process)
    except BaseException:
        process.stop()
        raise
    return process, Simulator(f"http://127.0.0.1:{port}")


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    known = ", ".join(CASES)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated: {known}")
    parser.add_argument(
        "--payments", type=int, help="per case (default: 10,000 at 0 ms, 6,000 otherwise)"
    )
    parser.add_argument("--worker-processes", type=int, help="WORKER_PROCESSES for every case")
    parser.add_argument("--skip-peer", action="store_true", help="paystream and ceiling only")
    parser.add_argument("--ceiling-connections", type=int, default=CEILING_CONNECTIONS)
    parser.add_argument("--timeout-s", type=float, default=SETTLE_TIMEOUT_S_DEFAULT)
    options = parser.parse_args()
    unknown = sorted(set(options.cases.split(",")) - set(CASES))
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {known}")
    if options.payments is not None and options.payments < 2:
        parser.error("--payments must be at least 2")
    if options.worker_processes is not None and options.worker_processes < 1:
        parser.error("--worker-processes must be at least 1")
    return options


def main() -> None:
    options = parse_options()
    # SIGTERM unwinds like Ctrl-C, so every process and database is cleaned up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    simulator.ensure_wrk()
    try:
        results = run_cases(options)
    except KeyboardInterrupt:
        raise SystemExit("interrupted: every process it started is stopped") from None
    report_summary(results)


def run_cases(options: argparse.Namespace) -> list[CaseResult]:
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        process, sim = start_simulator(Path(scratch))
        try:
            for name in options.cases.split(","):
                results.append(run_case(CASES[name], sim, options, Path(scratch)))
        finally:
            process.stop()
    return results


if __name__ == "__main__":
    main()
