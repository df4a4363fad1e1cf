"""The whole stack as real processes (simulator, uvicorn, dramatiq) on a private Redis and a
fresh database, with a merchant created through the real CLI."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import ROOT, Process, free_port, python_argv, wait_for_http

CLI_TIMEOUT_S = 60
#: A provider rate limit no test stack reaches.
UNTHROTTLED_PER_S = 100_000


@dataclass(frozen=True)
class Stack:
    base_url: str
    simulator_url: str
    env: dict[str, str]
    api_key: str


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python_argv("-m", "app.cli", *args),
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
    )


def running_stack(
    redis_url: str, database_url: str, log_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    simulator_port, web_port = free_port(), free_port()
    simulator_url = f"http://127.0.0.1:{simulator_port}"
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "STRIPE_API_BASE": simulator_url,
        "PAYSTACK_API_BASE": simulator_url,
        "CHARGE_BACKOFF_MS_MIN": "100",
        "CHARGE_BACKOFF_MS_MAX": "2000",
        # The providers' live limits would make the suite's load tests wait on them; the
        # rate-limit tests choose their own.
        "STRIPE_ACCOUNT_RATE_PER_S": str(UNTHROTTLED_PER_S),
        "PAYSTACK_ACCOUNT_RATE_PER_S": str(UNTHROTTLED_PER_S),
        **(extra_env or {}),
    }
    processes = [
        Process(
            "simulator",
            python_argv("-m", "app.simulator", "--port", str(simulator_port)),
            env,
            log_dir,
        ),
        Process(
            "web",
            python_argv(
                "-m", "uvicorn", "app.main:app", "--port", str(web_port), "--no-access-log"
            ),
            env,
            log_dir,
        ),
        Process(
            "worker",
            python_argv("-m", "dramatiq", "actors", "--processes", "2", "--threads", "8"),
            env,
            log_dir,
        ),
    ]
    try:
        wait_for_http(f"{simulator_url}/healthz", processes[0])
        wait_for_http(f"http://127.0.0.1:{web_port}/healthz", processes[1])
        created = cli(env, "merchant", "create", "e2e", "--json")
        assert created.returncode == 0, created.stderr
        api_key = json.loads(created.stdout)["api_key"]
        yield Stack(f"http://127.0.0.1:{web_port}", simulator_url, env, api_key)
    finally:
        for process in processes:
            process.stop()
        for process in processes:
            print(f"--- {process.name} log ---\n{process.log()[-4000:]}", file=sys.stderr)
