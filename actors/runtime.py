"""What a worker process builds once and shares between its messages in flight."""

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine

from actors.group_commit import GroupCommit, ledger_writer, relay_writer
from actors.measured_provider import MeasuredProvider
from actors.middleware.throttle import Throttle
from actors.state import Outbox, PaymentState, RefundState
from actors.trail import Trail
from app.db import create_engine_for
from app.events.relay import Relayed
from app.ledger import Entry, Recorded
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES, build_provider
from app.queue.batch import Batcher, Replication
from app.queue.connection import WORKER_BATCH_TIMEOUT_S, AsyncClient, worker_async_client
from app.settings import Settings, settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis: AsyncClient
    payments: PaymentState
    refunds: RefundState
    providers: dict[str, Provider]
    throttle: Throttle
    #: Redis commands and scripts of the messages in flight, pipelined together.
    batcher: Batcher
    #: PostgreSQL: the ledger, the merchants, events and the history.
    database: Engine
    ledger: GroupCommit[Entry, Recorded]
    relay: GroupCommit[Relayed, list[str]]
    #: Where each published event's relay is closed.
    outbox: Outbox

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
        await self.batcher.aclose()
        await self.redis.aclose()
        self.database.dispose()


def build_runtime(config: Settings, client: AsyncClient, database_url: str) -> Runtime:
    """Clients bind to the event loop that first uses them: build, use and close a runtime on
    one loop (the worker's in-flight loop, or a test's)."""
    engine = create_engine_for(database_url)
    batcher = Batcher(client, Replication.of(config), timeout_s=WORKER_BATCH_TIMEOUT_S)
    trail = Trail(batcher, config.stream_partitions, config.payment_record_ttl_s)
    return Runtime(
        settings=config,
        redis=client,
        payments=PaymentState(batcher, config.stream_partitions, config.payment_record_ttl_s),
        refunds=RefundState(batcher, config.stream_partitions, config.payment_record_ttl_s),
        providers={
            name: MeasuredProvider(build_provider(name, config), trail) for name in PROVIDER_NAMES
        },
        throttle=Throttle(batcher, config),
        batcher=batcher,
        database=engine,
        ledger=ledger_writer(engine),
        relay=relay_writer(engine),
        outbox=Outbox(batcher),
    )


@cache
def runtime() -> Runtime:
    config = settings()
    return build_runtime(config, worker_async_client(config), config.database_url)
