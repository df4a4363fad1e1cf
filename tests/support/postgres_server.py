"""A private PostgreSQL cluster for tests that must own their database (outages, crashes)."""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.processes import POLL_INTERVAL_S, free_port

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# initdb, pg_ctl: bounds the whole command, above the timeout pg_ctl itself is given.
COMMAND_TIMEOUT_S = 60.0
# Processes of a killed cluster die at once on SIGKILL; this only bounds the sweep.
EXIT_TIMEOUT_S = 10.0
# libpq treats anything below 2 s as 2 s.
CONNECT_TIMEOUT_S = 2
# Debian ships each major version's binaries in <root>/<major>/bin, outside PATH.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
POSTGRES_USER = "postgres"
# pg_ctl status: 0 is running, 3 is not running.
PG_CTL_STATUS_RUNNING = 0
PG_CTL_STATUS_STOPPED = 3


def find_bin_dir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: pg_config's, else Debian's newest."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    debian = sorted(DEBIAN_ROOT.glob("*/bin"), key=_major_version, reverse=True)
    for bin_dir in [*candidates, *debian]:
        if all((bin_dir / name).is_file() for name in REQUIRED_BINARIES):
            return bin_dir
    raise RuntimeError(f"PostgreSQL server binaries not found (looked in {candidates + debian})")


def _major_version(bin_dir: Path) -> int:
    name = bin_dir.parent.name
    return int(name) if name.isdigit() else 0


def _as_cluster_owner() -> list[str]:
    """The prefix that runs initdb and pg_ctl as a user they accept: they refuse root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root needs runuser to become the postgres user")
    return [runuser, "-u", POSTGRES_USER, "--"]


class PostgresServer:
    """A PostgreSQL cluster of its own on a free port, started on creation."""

    def __init__(self) -> None:
        self._bin_dir = find_bin_dir()
        self._prefix = _as_cluster_owner()
        self.port = free_port()
        # Not pytest's tmp_path: that may be a root-only folder the postgres user cannot enter.
        self.folder = Path(tempfile.mkdtemp(prefix="paystream-postgres-")).resolve()
        self.data_dir = self.folder / "data"
        # Our own socket folder, so nothing collides with the shared server's.
        self.socket_dir = self.folder / "socket"
        self.log_path = self.folder / "postgres.log"
        try:
            self.socket_dir.mkdir()
            if self._prefix:
                shutil.chown(self.folder, POSTGRES_USER, POSTGRES_USER)
                shutil.chown(self.socket_dir, POSTGRES_USER, POSTGRES_USER)
            self._init_cluster()
            self.start()
        except BaseException:
            self.cleanup()
            raise

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{POSTGRES_USER}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        """PostgreSQL's own log, kept across restarts (pg_ctl appends to it)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def start(self) -> None:
        """Start (again, after ``stop`` or ``kill``) on the same port with the same data."""
        options = " ".join(
            [
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                # Safe for kill(): the kernel keeps what a killed process wrote; only a power
                # cut would lose it, and tests do not cut power.
                "-c fsync=off",
                # On, so a commit has reached the kernel before it returns and survives kill().
                "-c synchronous_commit=on",
            ]
        )
        self._pg_ctl("start", "--wait", f"--log={self.log_path}", f"--options={options}")
        self._wait_ready()

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions, checkpoint, and wait for the exit."""
        self._pg_ctl("stop", "--wait", "--mode=fast")

    def kill(self) -> None:
        """A crash: SIGKILL the postmaster, then its orphans; ``start`` runs crash recovery."""
        postmaster_pid = self._postmaster_pid()
        # The pid file outlives a crash; its pid may since belong to someone else.
        if postmaster_pid is not None and postmaster_pid in self.process_ids():
            _kill_if_alive(postmaster_pid)
        self._kill_cluster_processes()
        # The dead postmaster stays a zombie until init reaps it (about a second here), and
        # PostgreSQL takes a zombie's pid for a live postmaster and refuses to start. No
        # process of the cluster lives now, so its lock files are stale: drop them.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def is_running(self) -> bool:
        argv = [*self._prefix, str(self._bin_dir / "pg_ctl"), "status", f"--pgdata={self.data_dir}"]
        result = subprocess.run(
            argv, cwd=self.folder, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
        if result.returncode not in (PG_CTL_STATUS_RUNNING, PG_CTL_STATUS_STOPPED):
            raise RuntimeError(f"pg_ctl status failed:\n{result.stdout}{result.stderr}")
        return result.returncode == PG_CTL_STATUS_RUNNING

    def process_ids(self) -> list[int]:
        """Live processes of this cluster, found by their working folder: every one of them
        (postmaster, backends, orphans of a killed postmaster) runs in the data folder."""
        targets = {str(self.data_dir), f"{self.data_dir} (deleted)"}
        pids: list[int] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cwd = os.readlink(entry / "cwd")
            except OSError:
                # Gone, a zombie, or not ours to inspect.
                continue
            if cwd in targets:
                pids.append(int(entry.name))
        return pids

    def cleanup(self) -> None:
        """Stop if running, reap every process of the cluster, and remove its folder."""
        try:
            if self.data_dir.exists() and self.is_running():
                self.stop()
        finally:
            self._kill_cluster_processes()
            if self.folder.exists():
                shutil.rmtree(self.folder)

    def _init_cluster(self) -> None:
        self._run(
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={POSTGRES_USER}",
            "--auth=trust",
            "--encoding=UTF8",
            # The C locale always exists, whatever locales the machine has generated.
            "--locale=C",
            # A scratch cluster: skip the fsync of every file initdb writes.
            "--no-sync",
        )

    def _pg_ctl(self, action: str, *args: str) -> None:
        timeout_s = int(READY_TIMEOUT_S if action == "start" else STOP_TIMEOUT_S)
        self._run("pg_ctl", action, f"--pgdata={self.data_dir}", f"--timeout={timeout_s}", *args)

    def _run(self, binary: str, *args: str) -> None:
        argv = [*self._prefix, str(self._bin_dir / binary), *args]
        # The cluster's folder: the postgres user may not be allowed into our own cwd.
        result = subprocess.run(
            argv, cwd=self.folder, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n--- postgres log ---\n{self.log()}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S):
                    return
            except psycopg.OperationalError:
                time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"postgres on {self.port} did not accept connections:\n{self.log()}")

    def _postmaster_pid(self) -> int | None:
        # The first line of postmaster.pid is the postmaster's pid.
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        first_line = pid_file.read_text().partition("\n")[0]
        return int(first_line) if first_line.isdigit() else None

    def _kill_cluster_processes(self) -> None:
        # Repeated, because a postmaster killed mid-fork may leave a child the last scan missed.
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        killed: set[int] = set()
        while time.monotonic() < deadline:
            pids = self.process_ids()
            # A dying process leaves its folder before it is done exiting: wait for the end.
            if not pids and not any(is_live(pid) for pid in killed):
                return
            for pid in pids:
                _kill_if_alive(pid)
            killed.update(pids)
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"postgres processes {self.process_ids()} outlived SIGKILL")


def is_live(pid: int) -> bool:
    """A pid that still runs; a zombie left for init to reap counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # The state follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _kill_if_alive(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
