"""Where an accept's CPU goes: py-spy samples one uvicorn worker of paystream under wrk load.

    .venv/bin/python bench/profile_ingest.py [--seconds 10] [--connections 64]

Same set-up as bench/ingest.py (private redis-server with AOF everysec, one uvicorn worker,
fresh Idempotency-Keys); prints the share of samples in each stage of POST /v1/payments. The
sampler slows the process down, so read the shares, not the rate it prints.
"""

import argparse
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import bench_merchant, run_wrk, serve  # noqa: E402

#: Samples per second: dense enough for 1 % stages over a 10 s run.
SAMPLE_RATE_PER_S = 500
#: Stages of an accept, each named by the function whose samples (callees included) it counts.
STAGES = {
    "uvicorn: writing the answer (response head, socket)": "RequestResponseCycle.send",
    "uvicorn: reading and parsing the request": "HttpToolsProtocol.data_received",
    "request log: Request-Id and the access line": "BoundLogger.info",
    "auth, Idempotency-Key, body read, JSON parse": "mutation_of",
    "validation of the body": "validate",
    "accept: ids, fingerprint, record, message": "Acceptor.accept",
    "Redis: pipeline packed, sent, replies parsed": "Batcher._send",
    "metrics: accept latency, counters": "MmapedValue",
}


def profile(pid: int, seconds: int, output: Path) -> subprocess.Popen[bytes]:
    argv = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid)]
    argv += ["--rate", str(SAMPLE_RATE_PER_S), "--duration", str(seconds)]
    argv += ["--format", "raw", "--output", str(output), "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def shares(collapsed: Path) -> tuple[int, dict[str, float]]:
    total = 0
    counted: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for stage, function in STAGES.items():
            if re.search(rf"(^|;)([^;]*\.)?{re.escape(function)}[ .]", stack):
                counted[stage] += int(count)
    return total, {stage: counted[stage] / max(total, 1) for stage in STAGES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, bench_merchant(Path(scratch)) as merchant:
        log_dir = Path(scratch)
        process, url = serve("paystream", "app.main:app", 1, merchant.env, log_dir)
        try:
            sampler = profile(process.popen.pid, args.seconds + 1, log_dir / "profile.txt")
            figures = run_wrk(url, args.seconds, args.connections, merchant.api_key)
            sampler.wait()
        finally:
            process.stop()
        total, stage_shares = shares(log_dir / "profile.txt")
    print(f"{total} samples at {figures['rps']:.0f} req/s (slowed by the sampler)")
    for stage, share in stage_shares.items():
        print(f"{share:>6.1%}  {stage}")
    # The stages do not nest, so what they leave is the event loop and the glue between them.
    print(f"{1 - sum(stage_shares.values()):>6.1%}  the rest: event loop, uvicorn's protocol glue")


if __name__ == "__main__":
    main()
