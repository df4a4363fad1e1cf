"""Log lines of every paystream process: one JSON object per line (or readable text at a
terminal), with the request id, merchant id and payment id of whatever the line is about.

structlog renders the records of the standard ``logging`` module, so Dramatiq's and uvicorn's
own lines come out in the same shape as ours. The ids live in context variables: a web request
and each worker message in flight run in their own asyncio task (or thread), whose context
holds its own ids, so hundreds of payments at once never lend each other theirs.
"""

import logging
import sys
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import structlog
from structlog.types import Processor

#: Context keys the log lines carry; also what may be bound, so nothing else slips in.
REQUEST_ID: Final = "request_id"
LOGGER_NAMES_RELAYED = ("uvicorn", "uvicorn.error")
#: uvicorn's access lines name the raw path and no ids; app.http.request_log writes ours.
LOGGER_NAMES_SILENCED = ("uvicorn.access",)
LEVEL_DEFAULT = logging.INFO
#: Anything a line holds that JSON has no type for is written as its repr, as structlog does.
_LINE_ENCODER = msgspec.json.Encoder(enc_hook=repr)


class _PaystreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The one handler ``configure`` installs; found again by its type when reconfigured."""


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]


def _json_line(event: Any, **_: Any) -> str:
    # msgspec rather than json: every request writes an access line, and this is several
    # times cheaper (the same JSON, without the spaces).
    return _LINE_ENCODER.encode(event).decode()


def _renderer(log_format: str) -> Processor:
    if log_format == "text":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.processors.JSONRenderer(serializer=_json_line)


def configure(log_format: str, level: int = LEVEL_DEFAULT) -> None:
    """Route every logger of the process through one handler on stderr, in ``log_format``
    (``json`` or ``text``). Safe to call again: the handler is replaced, not added twice."""
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(log_format),
        ],
    )
    # No line shows the thread or process names a record looks up each time, nor the file and
    # line it was logged from (which costs a walk up the stack, a tenth of a line's cost):
    # none is looked up. CPython's logging names ``_srcfile = None`` as the way to skip it.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = _PaystreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        # Ours from an earlier call, and the plain-text handlers Dramatiq's worker process
        # installs before it imports the actors: one line per record, in one shape.
        if isinstance(existing, _PaystreamHandler) or _is_plain_stream(existing):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    for name in (*LOGGER_NAMES_RELAYED, *LOGGER_NAMES_SILENCED):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = name in LOGGER_NAMES_RELAYED


def _is_plain_stream(handler: logging.Handler) -> bool:
    return type(handler) is logging.StreamHandler


def get_logger(name: str) -> Any:
    """A structlog logger: ``log.info("event.name", key=value)``."""
    return structlog.stdlib.get_logger(name)


def bind(**values: Any) -> None:
    """Add ``values`` to every line logged from here on in this task or thread."""
    structlog.contextvars.bind_contextvars(**values)


def clear() -> None:
    structlog.contextvars.clear_contextvars()


def bound() -> Mapping[str, Any]:
    return structlog.contextvars.get_contextvars()


def request_id() -> str | None:
    """The id of the request (or message) this task is working for, if any."""
    value = bound().get(REQUEST_ID)
    return value if isinstance(value, str) else None
