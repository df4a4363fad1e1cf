"""What a worker process builds once and shares between its threads."""

from dataclasses import dataclass
from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import Engine

from actors.ledger_writer import LedgerWriter
from actors.payment_state import PaymentState
from actors.throttle import Throttle
from app.db import create_engine_for
from app.providers.base import Provider
from app.providers.registry import PROVIDER_NAMES, build_provider
from app.settings import Settings, settings

REDIS_SOCKET_TIMEOUT_S = 10.0
#: An idle pooled connection is pinged before reuse after this long, so a restarted Redis
#: costs a reconnect, not a failed command.
REDIS_HEALTH_CHECK_INTERVAL_S = 30
#: A command that fails on a dead connection is sent once more on a fresh one. Safe: every
#: worker write is a compare-and-set or keyed by message id, except a plain XADD, whose rerun
#: can only deliver a message twice, which the recovery points absorb.
REDIS_CONNECTION_RETRIES = 1


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis: redis.Redis
    payments: PaymentState
    providers: dict[str, Provider]
    throttle: Throttle
    ledger: Engine
    ledger_writer: LedgerWriter


def redis_client(config: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        config.redis_url,
        socket_timeout=REDIS_SOCKET_TIMEOUT_S,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S,
        health_check_interval=REDIS_HEALTH_CHECK_INTERVAL_S,
        retry=Retry(NoBackoff(), REDIS_CONNECTION_RETRIES),
    )


@cache
def runtime() -> Runtime:
    config = settings()
    client = redis_client(config)
    engine = create_engine_for(config.database_url)
    return Runtime(
        settings=config,
        redis=client,
        payments=PaymentState(client, config.stream_partitions),
        providers={name: build_provider(name, config) for name in PROVIDER_NAMES},
        throttle=Throttle(client, config),
        ledger=engine,
        ledger_writer=LedgerWriter(engine),
    )
