"""One scrape's answer: every process of the family summed from their files, plus what is
read live (the queue gauges, on the web side)."""

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.registry import Collector

from app.metrics import MULTIPROCESS_ENV


def family_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=os.environ[MULTIPROCESS_ENV])
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    return generate_latest(family_registry(extra))


def forget_process(pid: int) -> None:
    """A stopped process's live gauges (messages in flight) stop counting; its counters stay."""
    multiprocess.mark_process_dead(pid, os.environ[MULTIPROCESS_ENV])
