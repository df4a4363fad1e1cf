"""The whole stack as real processes (simulator, uvicorn, dramatiq) on a private Redis and a
fresh database, with a merchant created through the real CLI."""

import collections
import json
import os
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import (
    ROOT,
    Process,
    free_port,
    python_argv,
    stop_all,
    wait_for_http,
)

CLI_TIMEOUT_S = 60
#: A provider rate limit no test stack reaches.
UNTHROTTLED_PER_S = 100_000
WORKERS = 2
WORKER_THREADS = 8
STRIPE_WEBHOOK_SECRET = "whsec_test_stack"


class Workers:
    """Dramatiq worker processes, each in its own process group, that a test may kill with
    SIGKILL and replace, or stop and start again."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started = 0
        self.running: collections.deque[Process] = collections.deque()
        self.stopped: list[Process] = []

    def start(self, count: int = 1) -> None:
        for _ in range(count):
            self.started += 1
            # The Procfile's entry point: the actors imported before the worker process forks.
            argv = python_argv("-m", "actors", "--processes", "1", "--threads", str(WORKER_THREADS))
            self.running.append(Process(f"worker-{self.started}", argv, self.env, self.log_dir))

    def kill_oldest(self) -> None:
        """SIGKILL the longest-running worker, as a crash would, and start a replacement."""
        victim = self.running.popleft()
        victim.kill()
        victim.stop()
        self.stopped.append(victim)
        self.start()

    def stop(self) -> None:
        stop_all(self.running)
        self.stopped += self.running
        self.running.clear()

    def all(self) -> list[Process]:
        return [*self.stopped, *self.running]


@dataclass(frozen=True)
class Stack:
    base_url: str
    simulator_url: str
    env: dict[str, str]
    api_key: str
    workers: Workers


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
    redis_url: str,
    database_url: str,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    workers: int = WORKERS,
) -> Generator[Stack, None, None]:
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
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        # No metrics port: stacks run side by side; the metrics test chooses its own.
        "WORKER_METRICS_PORT": "0",
        **(extra_env or {}),
    }
    web_url = f"http://127.0.0.1:{web_port}"
    # The simulator sends the providers' webhooks to the web process, as the providers would.
    simulator_argv = [
        "-m",
        "app.simulator",
        "--port",
        str(simulator_port),
        "--stripe-webhook-url",
        f"{web_url}/v1/webhooks/stripe",
        "--paystack-webhook-url",
        f"{web_url}/v1/webhooks/paystack",
        "--stripe-webhook-secret",
        env["STRIPE_WEBHOOK_SECRET"],
    ]
    web_argv = ["-m", "uvicorn", "app.main:app", "--port", str(web_port), "--no-access-log"]
    processes = [
        Process("simulator", python_argv(*simulator_argv), env, log_dir),
        Process("web", python_argv(*web_argv), env, log_dir),
    ]
    pool = Workers(env, log_dir)
    try:
        pool.start(workers)
        wait_for_http(f"{simulator_url}/healthz", processes[0])
        wait_for_http(f"{web_url}/healthz", processes[1])
        created = cli(env, "merchant", "create", "e2e", "--json")
        assert created.returncode == 0, created.stderr
        api_key = json.loads(created.stdout)["api_key"]
        yield Stack(web_url, simulator_url, env, api_key, pool)
    finally:
        stop_all([*pool.running, *processes])
        pool.stop()  # all stopped already: files them as stopped
        for process in [*processes, *pool.all()]:
            print(f"--- {process.name} log ---\n{process.log()[-4000:]}", file=sys.stderr)
