"""The provider simulator's side of the benchmark: what paystream's worker asks of it per
payment, how fast it can answer that on its own, and what money it moved."""

import collections
import os
import re
import shutil
import subprocess

import httpx

from bench.settlement.figures import Ceiling
from tests.support.processes import ROOT
from tests.support.simulator import Simulator

CONTROL_TIMEOUT_S = 30.0
#: Both faces take any ``sk_…`` bearer key.
SECRET_KEY = "sk_test_bench"
CEILING_SECONDS = 5
CEILING_WRK_THREADS = 2
#: wrk counts an answer slower than this as a timeout; the lognormal tail stays far below.
CEILING_WRK_TIMEOUT_S = 10
WRK_SCRIPT = ROOT / "bench" / "wrk_simulator.lua"


def ensure_wrk() -> str:
    """wrk's path, installed from the distribution when missing (as bench/ingest.py does)."""
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return found


def paystream_call_mix() -> dict[str, str]:
    """The provider calls paystream's worker makes per payment today, as bench/wrk_simulator.lua
    replays them: Stripe creates the PaymentIntent, then confirms it (two calls); Paystack
    charges the authorization (one call). When the worker moves to one Stripe call (a create
    with confirm=true), this becomes ``create_confirmed``."""
    return {"STRIPE_FLOW": "create_then_confirm"}


def reset(simulator: Simulator) -> None:
    """Forget every object and movement of money; the latency configuration stays."""
    response = httpx.post(f"{simulator.base_url}/_sim/reset", timeout=CONTROL_TIMEOUT_S)
    response.raise_for_status()


def check_charges(simulator: Simulator, charged_ids: set[str]) -> None:
    """Since the last reset each of ``charged_ids`` moved money exactly once, and nothing else
    did; otherwise no figure."""
    counts = collections.Counter(charge["payment_id"] for charge in simulator.charges())
    doubles = sorted(payment_id for payment_id, times in counts.items() if times > 1)
    missing = sorted(charged_ids - counts.keys())
    unexpected = sorted(counts.keys() - charged_ids)
    print(f"    charges: {sum(counts.values())}, doubles: {len(doubles)}", flush=True)
    if doubles or missing or unexpected:
        raise SystemExit(
            f"charges are wrong, no figure: {len(doubles)} doubled {doubles[:3]}, "
            f"{len(missing)} never charged {missing[:3]}, "
            f"{len(unexpected)} charged but not recorded {unexpected[:3]}"
        )


def ceiling(simulator: Simulator, paystack_percent: int, connections: int) -> Ceiling:
    """Payments/s the simulator serves on its own, driven by wrk with paystream's call mix."""
    reset(simulator)
    env = {
        **paystream_call_mix(),
        "PAYSTACK_PERCENT": str(paystack_percent),
        "SECRET_KEY": SECRET_KEY,
    }
    argv = [
        ensure_wrk(),
        f"-t{CEILING_WRK_THREADS}",
        f"-c{connections}",
        f"-d{CEILING_SECONDS}s",
        f"--timeout={CEILING_WRK_TIMEOUT_S}s",
        "-s",
        str(WRK_SCRIPT),
        simulator.base_url,
    ]
    result = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True)
    reset(simulator)
    counted = re.search(r"^payments: (\d+) in ([\d.]+) s$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or counted is None or "Non-2xx" in result.stdout:
        raise RuntimeError(f"wrk against the simulator failed:\n{result.stdout}{result.stderr}")
    errors = re.search(r"Socket errors:.*", result.stdout)
    method = (
        f"wrk, {CEILING_WRK_THREADS} threads, {connections} connections, {CEILING_SECONDS} s; "
        f"Stripe {paystream_call_mix()['STRIPE_FLOW']}, {paystack_percent} % Paystack"
        + (f"; {errors.group(0)}" if errors else "")
    )
    return Ceiling(int(counted.group(1)) / float(counted.group(2)), method)
