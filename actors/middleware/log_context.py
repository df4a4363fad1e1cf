"""Every log line about a message carries its ids: the payment's or refund's, the message's,
and the request id its client saw in ``Request-Id`` (carried in the message's options).

Bound in ``before_process_message``, which runs in the message's own asyncio task (async
actors, many in flight on one loop) or on its worker thread: each has its own context, so the
ids of one message never show on another's lines."""

from typing import Any

from dramatiq.broker import Broker, MessageProxy
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from app import logs
from app.queue.dispatch import REQUEST_ID_OPTION
from app.queue.keys import PAYMENT_ID_PREFIX, REFUND_ID_PREFIX
from app.settings import settings

#: The context key an actor's first argument is bound under, by its id's prefix.
ID_KEYS = {PAYMENT_ID_PREFIX: "payment_id", REFUND_ID_PREFIX: "refund_id"}


def message_context(message: Message[Any] | MessageProxy) -> dict[str, Any]:
    context: dict[str, Any] = {"message_id": message.message_id, "actor": message.actor_name}
    request_id = message.options.get(REQUEST_ID_OPTION)
    if isinstance(request_id, str):
        context[logs.REQUEST_ID] = request_id
    object_id = message.args[0] if message.args else None
    if isinstance(object_id, str):
        for prefix, key in ID_KEYS.items():
            if object_id.startswith(prefix):
                context[key] = object_id
    return context


class LogContext(Middleware):
    def after_process_boot(self, broker: Broker) -> None:
        """A worker process forked from a main process that imported the actors (``python -m
        actors``) did not configure its logging: Dramatiq has just replaced its handlers with
        its own plain-text ones. Configuring again is harmless where the import did it."""
        logs.configure(settings().log_format)

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        logs.clear()
        logs.bind(**message_context(message))
