"""The broker's Lua scripts: read once at import, registered once per Redis client."""

from dataclasses import dataclass
from pathlib import Path

from redis.commands.core import Script

from app.queue.connection import SyncClient
from app.queue.scripts import lua_source

LUA_DIRECTORY = Path(__file__).parent / "lua"
SOURCES = {
    name: lua_source(LUA_DIRECTORY, name)
    for name in ("read", "schedule", "move", "ack", "dead_letter", "requeue", "reclaim", "renew")
}


@dataclass(frozen=True)
class Scripts:
    """One registered script per atomic step; each file's header documents its KEYS and ARGV."""

    read: Script
    schedule: Script
    move: Script
    ack: Script
    dead_letter: Script
    requeue: Script
    reclaim: Script
    renew: Script


def register_scripts(client: SyncClient) -> Scripts:
    return Scripts(**{name: client.register_script(source) for name, source in SOURCES.items()})
