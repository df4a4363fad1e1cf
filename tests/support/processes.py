"""Real processes for tests: free ports, child processes that are always reaped, readiness."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.05
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process in its own process group, with its output kept in a log file."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        self.wait_stopped()

    def wait_stopped(self) -> None:
        """Wait for a stop asked with ``kill(SIGTERM)``; SIGKILL after ``STOP_TIMEOUT_S``."""
        if self.popen.poll() is None:
            try:
                self.popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT_S)
        self._log.close()


def python_argv(*args: str) -> list[str]:
    return [sys.executable, *args]


def wait_for_http(url: str, process: Process | None = None) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.log()}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"{url} did not answer within {READY_TIMEOUT_S} s")


def stop_all(processes: Sequence[Process]) -> None:
    """Stop ``processes`` together: each takes its shutdown time at the same time."""
    for process in processes:
        process.kill(signal.SIGTERM)
    for process in processes:
        process.wait_stopped()
