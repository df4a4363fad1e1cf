"""The queue gauges, read from Redis at scrape time: they describe the shared streams, not a
process, so no process keeps them and any web process may answer them."""

from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from app.queue.ops import PartitionStatus

MS_PER_S = 1000


class QueueCollector(Collector):
    def __init__(self, queue: str, rows: Sequence[PartitionStatus]) -> None:
        self.queue = queue
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        families = {
            "length": GaugeMetricFamily(
                "paystream_queue_length", "Entries in the stream.", labels=["queue", "partition"]
            ),
            "pending": GaugeMetricFamily(
                "paystream_queue_pending",
                "Entries delivered to a worker, not yet settled.",
                labels=["queue", "partition"],
            ),
            "lag": GaugeMetricFamily(
                "paystream_queue_lag",
                "Entries no worker has read yet.",
                labels=["queue", "partition"],
            ),
            "idle": GaugeMetricFamily(
                "paystream_queue_oldest_pending_idle_seconds",
                "How long the oldest pending entry has waited since its delivery.",
                labels=["queue", "partition"],
            ),
            "delayed": GaugeMetricFamily(
                "paystream_queue_delayed",
                "Messages waiting for their retry time.",
                labels=["queue", "partition"],
            ),
            "dead": GaugeMetricFamily(
                "paystream_queue_dead_letters",
                "Messages in the dead-letter stream.",
                labels=["queue", "partition"],
            ),
        }
        for row in self.rows:
            labels = [self.queue, str(row.partition)]
            families["length"].add_metric(labels, row.length)
            families["pending"].add_metric(labels, row.pending)
            families["lag"].add_metric(labels, row.lag or 0)
            idle_ms = row.oldest_pending_idle_ms or 0
            families["idle"].add_metric(labels, idle_ms / MS_PER_S)
            families["delayed"].add_metric(labels, row.delayed)
            families["dead"].add_metric(labels, row.dead)
        yield from families.values()
