"""The messages that put webhook chains (a payment's deliveries to one endpoint) on the
webhooks queue, for whoever makes deliveries due: the API's and the console's resend, the
command line, the sweeper."""

from collections.abc import Iterable

from app.queue import keys
from app.queue.dispatch import WEBHOOKS_QUEUE, deliver_message


def chain_messages(partitions: int, chains: Iterable[tuple[str, str]]) -> list[tuple[str, bytes]]:
    """(stream, message) for each (endpoint, payment) chain, on its payment's partition."""
    messages = []
    for endpoint_id, payment_id in chains:
        partition = keys.partition_of(payment_id, keys.PAYMENT_ID_PREFIX, partitions)
        if partition is None:
            raise ValueError(f"{payment_id!r} is not a payment id of this deployment")
        stream = keys.stream_key(partition, WEBHOOKS_QUEUE)
        messages.append((stream, deliver_message(endpoint_id, payment_id, partition)))
    return messages
