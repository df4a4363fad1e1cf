"""A private redis-server for tests that must own their Redis (end to end, outages)."""

import shutil
import time
from pathlib import Path

import redis

from tests.support.processes import Process, free_port

READY_TIMEOUT_S = 10.0


class RedisServer:
    def __init__(
        self, data_dir: Path, *, appendonly: bool = False, appendfsync: str = "everysec"
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        data_dir.mkdir(parents=True, exist_ok=True)
        self._data_dir = data_dir
        self._argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if appendonly else "no",
            "--appendfsync",
            appendfsync,
            "--dir",
            str(data_dir),
            "--maxmemory-policy",
            "noeviction",
        ]
        self.start()

    def start(self) -> None:
        """Start (again, after ``stop``) on the same port with the same data folder."""
        self.process = Process(f"redis-{self.port}", self._argv, {}, self._data_dir)
        self._wait_ready()

    def _wait_ready(self) -> None:
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + READY_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    time.sleep(0.05)
            raise TimeoutError(f"redis-server on {self.port} did not start:\n{self.process.log()}")
        finally:
            client.close()

    def stop(self) -> None:
        # A scratch server: nothing to keep, and SIGTERM may wait for an AOF rewrite first.
        self.process.kill()
        self.process.stop()
