"""What a worker process builds once and shares between its threads."""

from dataclasses import dataclass
from functools import cache

import redis
from sqlalchemy import Engine

from actors.group_commit import GroupCommit
from actors.middleware.throttle import Throttle
from actors.state import PaymentState, RefundState
from app.db import create_engine_for
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES, build_provider
from app.queue.connection import worker_client
from app.settings import Settings, settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis: redis.Redis
    payments: PaymentState
    refunds: RefundState
    providers: dict[str, Provider]
    throttle: Throttle
    #: PostgreSQL: the ledger and the merchants.
    database: Engine
    ledger: GroupCommit


def build_runtime(config: Settings, client: redis.Redis, database_url: str) -> Runtime:
    engine = create_engine_for(database_url)
    return Runtime(
        settings=config,
        redis=client,
        payments=PaymentState(client, config.stream_partitions),
        refunds=RefundState(client, config.stream_partitions),
        providers={name: build_provider(name, config) for name in PROVIDER_NAMES},
        throttle=Throttle(client, config),
        database=engine,
        ledger=GroupCommit(engine),
    )


@cache
def runtime() -> Runtime:
    config = settings()
    return build_runtime(config, worker_client(config), config.database_url)
