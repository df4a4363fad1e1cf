"""What a command connects to, opened for the command and closed after it."""

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine

from app.db import create_engine_for
from app.queue.connection import SyncClient, tool_client
from app.settings import settings


@contextlib.contextmanager
def database() -> Iterator[Engine]:
    engine = create_engine_for(settings().database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def redis_client() -> contextlib.closing[SyncClient]:
    return contextlib.closing(tool_client(settings().redis_url))
