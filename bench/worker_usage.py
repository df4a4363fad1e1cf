"""Resident memory and CPU time of the Dramatiq worker processes under one process, sampled
from /proc.

A worker process is one a Dramatiq master forked: it runs under its master's exact command
line. Memory counts the worker processes alone; CPU counts their master too, which imports the
actors before it forks them (``python -m actors``), so that start-up stays in the figure. Any
shell or honcho above the master is not counted.
"""

import os
import threading
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
KIB_PER_MIB = 1024
#: /proc counts CPU time in clock ticks of this many per second.
TICKS_PER_S = os.sysconf("SC_CLK_TCK")
#: How often the worker processes are sampled: their peak memory and their CPU so far.
SAMPLE_INTERVAL_S = 0.2


@dataclass(frozen=True)
class ProcessInfo:
    parent: int
    command: bytes


@dataclass(frozen=True)
class WorkerUsage:
    """Resident memory of the busiest single worker process and of all worker processes
    together, each at its worst sample; the most worker processes seen at once; and the CPU
    time every worker process and its master had used by their last sample (start-up
    included)."""

    single_mib: float
    total_mib: float
    processes_max: int
    cpu_s: float


def process_table() -> dict[int, ProcessInfo]:
    table = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # exited while we looked
            continue
        # The command name in field 2 may hold spaces and parentheses; the parent follows it.
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        table[int(entry.name)] = ProcessInfo(parent, command)
    return table


def descendants(root: int, table: dict[int, ProcessInfo]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info.parent, []).append(pid)
    found, frontier = [], [root]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


def worker_pids(root: int) -> tuple[list[int], set[int]]:
    """The worker processes under ``root``, and their masters."""
    table = process_table()
    workers = [
        pid
        for pid in descendants(root, table)
        if table.get(table[pid].parent, ProcessInfo(0, b"")).command == table[pid].command
    ]
    return workers, {table[pid].parent for pid in workers}


def cpu_ticks(pid: int) -> int | None:
    """User and system CPU time of ``pid`` so far, or None once it has gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime and stime: fields 14 and 15 of stat, counted from the pid as field 1.
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    try:
        status = (PROC / str(pid) / "status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class WorkerSampler:
    """Samples the worker processes under ``root`` every ``interval_s`` in a thread."""

    def __init__(self, root: int, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.root = root
        self.interval_s = interval_s
        self._single_kib = self._total_kib = self._processes_max = 0
        #: Each worker process's (and master's) CPU ticks at its latest sample, kept after it
        #: exits.
        self._ticks: dict[int, int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            pids, masters = worker_pids(self.root)
            sizes = [rss_kib(pid) for pid in pids]
            for pid in [*pids, *masters]:
                ticks = cpu_ticks(pid)
                if ticks is not None:
                    self._ticks[pid] = ticks
            self._single_kib = max(self._single_kib, *sizes, 0)
            self._total_kib = max(self._total_kib, sum(sizes))
            self._processes_max = max(self._processes_max, len(sizes))

    def stop(self) -> WorkerUsage:
        self._stopped.set()
        self._thread.join()
        return WorkerUsage(
            self._single_kib / KIB_PER_MIB,
            self._total_kib / KIB_PER_MIB,
            self._processes_max,
            sum(self._ticks.values()) / TICKS_PER_S,
        )
