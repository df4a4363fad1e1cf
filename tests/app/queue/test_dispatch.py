"""The worker message format: what the web process encodes, Dramatiq decodes as its own."""

import dramatiq

from app.queue.dispatch import (
    CHARGE_ACTOR,
    PAYMENTS_QUEUE,
    PROVIDER_EVENT_ACTOR,
    REQUEST_ID_OPTION,
    charge_message,
    provider_event_message,
)


def test_a_charge_message_is_a_dramatiq_message() -> None:
    encoded = charge_message("pay_x", 3, "req_1")

    message = dramatiq.Message.decode(encoded)

    assert (message.queue_name, message.actor_name) == (PAYMENTS_QUEUE, CHARGE_ACTOR)
    assert (tuple(message.args), message.kwargs) == (("pay_x",), {})
    assert message.options == {"partition": 3, REQUEST_ID_OPTION: "req_1"}
    assert message.message_timestamp > 0
    # Encoded again by Dramatiq itself, it is the same bytes: nothing added, nothing lost.
    assert message.encode() == encoded


def test_message_ids_are_unique_and_extra_arguments_kept() -> None:
    first = dramatiq.Message.decode(provider_event_message("{}", 17, 0))
    second = dramatiq.Message.decode(provider_event_message("{}", 17, 0))

    assert first.actor_name == PROVIDER_EVENT_ACTOR
    assert tuple(first.args) == ("{}", 17)
    assert first.message_id != second.message_id
