"""The one way paystream loads a Lua script: read once, with the shared key-layout constants.

Every script is a ``.lua`` file next to the module that runs it, headed by its KEYS, ARGV and
key layout. Facts that several scripts share (the stream entry's message field) are defined in
Python once and handed to every script as Lua locals, placed after a ``#!lua`` line when the
script has one (Redis reads its flags from the first line only).
"""

from pathlib import Path

from app.queue.keys import (
    LIST_SINCE_MEMBER,
    MESSAGE_FIELD,
    RELAY_MESSAGE_FIELD,
    RELAY_PENDING_FIELD,
    TRAIL_ENTRIES_MAX,
)

SHEBANG = "#!lua"
#: Lua locals every script may use; their values come from app.queue.keys.
SHARED_CONSTANTS = {
    "MESSAGE_FIELD": MESSAGE_FIELD,
    "LIST_SINCE_MEMBER": LIST_SINCE_MEMBER,
    "TRAIL_ENTRIES_MAX": TRAIL_ENTRIES_MAX,
    "RELAY_PENDING_FIELD": RELAY_PENDING_FIELD,
    "RELAY_MESSAGE_FIELD": RELAY_MESSAGE_FIELD,
}


def _preamble() -> str:
    return "".join(f'local {name} = "{value}"\n' for name, value in SHARED_CONSTANTS.items())


def lua_source(directory: Path, name: str, *helpers: str | Path) -> str:
    """The source of ``directory/name.lua`` with the shared constants defined at its top, then
    the local functions of ``directory/<helper>.lua`` for each helper, or of the file a helper
    given as a path names (Redis scripts cannot call each other: what two scripts share is
    written once and placed in both)."""
    source = (directory / f"{name}.lua").read_text(encoding="utf-8")
    shared = _preamble() + "".join(
        _helper_path(directory, helper).read_text(encoding="utf-8") for helper in helpers
    )
    if source.startswith(SHEBANG):
        shebang, _, body = source.partition("\n")
        return f"{shebang}\n{shared}{body}"
    return shared + source


def _helper_path(directory: Path, helper: str | Path) -> Path:
    return helper if isinstance(helper, Path) else directory / f"{helper}.lua"
