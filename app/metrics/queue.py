"""The queue gauges, read from Redis at scrape time: they describe the shared streams, not a
process, so no process keeps them and any web process may answer them."""

from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from app.queue.ops import PartitionStatus

MS_PER_S = 1000


#: Each gauge: its name, its help, and what it reads of one partition's status.
GAUGES: tuple[tuple[str, str, Callable[[PartitionStatus], float]], ...] = (
    ("paystream_queue_length", "Entries in the stream.", lambda row: row.length),
    (
        "paystream_queue_pending",
        "Entries delivered to a worker, not yet settled.",
        lambda row: row.pending,
    ),
    ("paystream_queue_lag", "Entries no worker has read yet.", lambda row: row.lag or 0),
    (
        "paystream_queue_oldest_pending_idle_seconds",
        "How long the oldest pending entry has waited since its delivery.",
        lambda row: (row.oldest_pending_idle_ms or 0) / MS_PER_S,
    ),
    ("paystream_queue_delayed", "Messages waiting for their retry time.", lambda row: row.delayed),
    ("paystream_queue_dead_letters", "Messages in the dead-letter stream.", lambda row: row.dead),
)


class QueueCollector(Collector):
    def __init__(self, queue: str, rows: Sequence[PartitionStatus]) -> None:
        self.queue = queue
        self.rows = rows

    def collect(self) -> Iterator[Metric]:
        for name, documentation, read in GAUGES:
            family = GaugeMetricFamily(name, documentation, labels=["queue", "partition"])
            for row in self.rows:
                family.add_metric([self.queue, str(row.partition)], read(row))
            yield family
