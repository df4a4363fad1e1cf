"""A payment waiting for its customer (3-D Secure): how it waits, and how the wait ends.

The charge stores ``requires_action`` with what the customer must do and until when, and its
message waits: a provider webhook settles it as soon as the customer acts, and otherwise
lookups, ever less often, catch what a lost webhook missed. At the deadline the provider is
told to abandon the charge (Stripe cancels the PaymentIntent, so a late authentication can no
longer move money) and the payment fails with ``authentication_timeout``.
"""

import time

from actors.middleware.retries import Defer
from actors.state import Transition
from app.payments.record import Step
from app.providers.base import NextAction, ProviderAnswer

#: The first lookup of a payment waiting for its customer; later ones double up to the cap,
#: and none is scheduled past the deadline.
LOOKUP_DELAY_MS = 60_000
LOOKUP_DELAY_MS_MAX = 3_600_000
AUTHENTICATION_TIMEOUT_CODE = "authentication_timeout"


def now_s() -> int:
    return int(time.time())


def next_action_fields(next_action: NextAction | None) -> dict[str, str]:
    if next_action is None:
        return {}
    fields = {"next_action_type": next_action.type}
    if next_action.redirect_url is not None:
        fields["next_action_url"] = next_action.redirect_url
    if next_action.client_secret is not None:
        fields["next_action_client_secret"] = next_action.client_secret
    return fields


def awaiting_customer(answer: ProviderAnswer, timeout_s: int) -> Transition:
    """The move to ``requires_action``, then a wait for the customer (or its webhook)."""
    fields = next_action_fields(answer.next_action)
    fields["action_deadline"] = str(now_s() + timeout_s)
    if answer.provider_reference:
        fields["provider_reference"] = answer.provider_reference
    return Transition(Step.REQUIRES_ACTION, fields, then=wait_for_customer(timeout_s * 1000))


def wait_for_customer(remaining_ms: int) -> Defer:
    """Look again later, never past the deadline."""
    return Defer(
        "waiting for the customer to authenticate",
        delay=max(1, min(LOOKUP_DELAY_MS, remaining_ms)),
        delay_max=max(1, min(LOOKUP_DELAY_MS_MAX, remaining_ms)),
    )


def remaining_ms(action_deadline: int | None) -> int:
    """Until the customer's deadline; a payment stored without one has none left."""
    return 0 if action_deadline is None else (action_deadline - now_s()) * 1000


def timed_out(timeout_s: int) -> Transition:
    message = f"The customer did not complete authentication within {timeout_s} s."
    fields = {"failure_code": AUTHENTICATION_TIMEOUT_CODE, "failure_message": message}
    return Transition(Step.DECLINED, fields)
