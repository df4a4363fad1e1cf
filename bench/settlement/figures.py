"""What one drain of a backlog measured, and how its latencies are summarized."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from bench.worker_usage import WorkerUsage


@dataclass(frozen=True)
class Drain:
    """N payments, from worker start until the last one was seen terminal."""

    count: int
    seconds: float
    #: Worker start until the first payment was seen terminal: mostly the worker's boot.
    first_s: float
    latency_p50_s: float
    latency_p99_s: float
    workers: WorkerUsage
    #: Worker processes × threads per process, as started.
    shape: str
    #: CPU the benchmark process itself spent (polling, sampling) while the workers drained:
    #: it runs on the same cores as they do.
    harness_cpu_s: float

    @property
    def rate_per_s(self) -> float:
        return self.count / self.seconds

    @property
    def cpu_ms_per_payment(self) -> float:
        """CPU of every worker process and their master over the drain, start-up included, per
        payment."""
        return 1000 * self.workers.cpu_s / self.count

    @property
    def harness_cpu_percent(self) -> float:
        """Of one core, over the drain."""
        return 100 * self.harness_cpu_s / self.seconds


@dataclass(frozen=True)
class Ceiling:
    rate_per_s: float
    method: str


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value that at least ``fraction`` of all values do not exceed."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = math.ceil(fraction * len(ordered))
    return ordered[max(rank, 1) - 1]
