"""A private Redis Cluster for tests and the local stack: masters and their replicas started
from the ``redis-server`` binary on free ports, joined by ``redis-cli --cluster create``."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from tests.support.processes import Process, free_port

MASTERS = 3
REPLICAS_PER_MASTER = 1
#: How long a silent master stays a master: short, so a test sees its replica promoted within
#: a few seconds instead of the production default of 15 s.
NODE_TIMEOUT_MS = 1000
READY_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05


class RedisCluster:
    def __init__(
        self,
        data_dir: Path,
        *,
        masters: int = MASTERS,
        replicas_per_master: int = REPLICAS_PER_MASTER,
    ) -> None:
        self._server = shutil.which("redis-server")
        self._cli = shutil.which("redis-cli")
        if self._server is None or self._cli is None:
            raise RuntimeError("redis-server and redis-cli are needed for a cluster")
        self._data_dir = data_dir
        self.ports = [free_port() for _ in range(masters * (1 + replicas_per_master))]
        self.processes: dict[int, Process] = {}
        # The bus ports chosen too: the default (port + 10000) may be taken or past 65535.
        self._bus_ports = {port: free_port() for port in self.ports}
        try:
            for port in self.ports:
                self._start_node(port)
            self._create(replicas_per_master)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        """The first node's URL: any node of the cluster will do."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node_url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def _start_node(self, port: int) -> None:
        node_dir = self._data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self._server),
            "--port", str(port),
            "--cluster-port", str(self._bus_ports[port]),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(node_dir),
            "--cluster-enabled", "yes",
            "--cluster-config-file", str(node_dir / "nodes.conf"),
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        self.processes[port] = Process(f"redis-cluster-{port}", argv, {}, node_dir)
        _wait_ping(port)

    def _create(self, replicas_per_master: int) -> None:
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        argv = [str(self._cli), "--cluster", "create", *nodes]
        argv += ["--cluster-replicas", str(replicas_per_master), "--cluster-yes"]
        subprocess.run(argv, check=True, capture_output=True, timeout=READY_TIMEOUT_S)

    def replicas(self) -> list[int]:
        """Ports of the live nodes replicating a master now."""
        return [port for port, role in self._roles().items() if role == "slave"]

    def masters(self) -> list[int]:
        """Ports of the nodes serving slots now (a promoted replica counts)."""
        return [port for port, role in self._roles().items() if role == "master"]

    def _roles(self) -> dict[int, str]:
        roles: dict[int, str] = {}
        for port, process in self.processes.items():
            if process.popen.poll() is not None:
                continue
            with redis.Redis(port=port, socket_timeout=1.0) as client:
                roles[port] = str(client.info("replication")["role"])
        return roles

    def wait_healthy(self) -> None:
        """Every live node sees the cluster ok and every slot's master has its replicas in sync."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._healthy():
                return
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError("the Redis Cluster did not become healthy")

    def _healthy(self) -> bool:
        try:
            for port, process in self.processes.items():
                if process.popen.poll() is not None:
                    continue
                with redis.Redis(port=port, socket_timeout=1.0) as client:
                    if client.cluster("info").get("cluster_state") != "ok":
                        return False
                    info = client.info("replication")
                    if info["role"] == "slave" and info.get("master_link_status") != "up":
                        return False
        except redis.RedisError:
            return False
        return True

    def kill(self, port: int) -> None:
        """SIGKILL one node: no shutdown, no last write to its replicas."""
        process = self.processes[port]
        process.kill()
        process.popen.wait()

    def restart(self, port: int) -> None:
        """Start a killed node again on its own port and data folder: it rejoins the cluster
        (a killed master as a replica of the one promoted in its place)."""
        self._start_node(port)

    def pause(self, port: int) -> None:
        """Freeze one node (SIGSTOP): alive but silent, as a replica stuck on a slow disk."""
        self.processes[port].kill(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        self.processes[port].kill(signal.SIGCONT)

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
            process.stop()


def _wait_ping(port: int) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with redis.Redis(port=port, socket_timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"redis-server on {port} did not start")


if __name__ == "__main__":
    # For scripts/stack --cluster: start a cluster that outlives this command, print its URL.
    print(RedisCluster(Path(sys.argv[1])).url)
