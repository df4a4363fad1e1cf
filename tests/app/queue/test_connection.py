"""The asyncio connection's C packer writes what redis-py's own packer writes; Redis reads it."""

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.exceptions import DataError

from app.queue.connection import HiredisPackedConnection

COMMANDS: list[tuple[object, ...]] = [
    ("SET", "paystream:test:packer", "€ and ascii", "EX", 60),
    (b"HSET", "paystream:test:packer:h", "amount", 1999, "rate", 0.1, "big", 10**18),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT LIST",),
    ("EVALSHA", "0" * 40, 1, b"\x00binary\xff", -3, 2.5e-7, "x" * 70_000),
]


def test_commands_pack_to_the_bytes_redis_py_writes() -> None:
    ours, theirs = HiredisPackedConnection(), aioredis.Connection()
    for command in COMMANDS:
        assert b"".join(ours.pack_command(*command)) == b"".join(theirs.pack_command(*command))
    assert b"".join(ours.pack_commands(COMMANDS)) == b"".join(theirs.pack_commands(COMMANDS))


@pytest.mark.parametrize("value", [None, True, ["a"], {"a": 1}])
def test_a_value_redis_py_refuses_is_refused_alike(value: object) -> None:
    with pytest.raises(DataError):
        aioredis.Connection().pack_command("SET", "k", value)
    with pytest.raises(DataError):
        HiredisPackedConnection().pack_command("SET", "k", value)


def test_a_pipeline_through_the_packer_round_trips(redis_url: str) -> None:
    async def run() -> list[object]:
        client = aioredis.Redis.from_url(redis_url, connection_class=HiredisPackedConnection)
        try:
            pipeline = client.pipeline(transaction=False)
            pipeline.set("paystream:test:packer", "€ and ascii")
            pipeline.hset("paystream:test:packer:h", mapping={"amount": 1999, "rate": 0.1})
            pipeline.get("paystream:test:packer")
            pipeline.hgetall("paystream:test:packer:h")
            pipeline.delete("paystream:test:packer", "paystream:test:packer:h")
            return list(await pipeline.execute())
        finally:
            await client.aclose()

    *_, text, fields, deleted = asyncio.run(run())
    assert text == "€ and ascii".encode()
    assert fields == {b"amount": b"1999", b"rate": b"0.1"}
    assert deleted == 2
