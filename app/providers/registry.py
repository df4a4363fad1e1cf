"""Provider adapters by name, built from the settings with every HTTP option spelled out."""

import httpx

from app.providers.base import Provider
from app.providers.paystack.client import PaystackProvider
from app.providers.stripe.client import StripeProvider
from app.settings import Settings

PROVIDER_NAMES = ("stripe", "paystack")

#: Connecting is quick or hopeless: a short connect limit turns an unreachable provider into a
#: fast RETRYABLE instead of holding a worker thread for the whole read budget.
CONNECT_TIMEOUT_S_MAX = 5.0
#: Shorter than providers' idle timeouts, so we rarely reuse a connection the server has already
#: closed (the failure would surface as an ambiguous UNKNOWN and cost a lookup).
KEEPALIVE_EXPIRY_S = 5.0


class UnknownProviderError(ValueError):
    """A provider name no adapter answers to."""


def build_provider(name: str, settings: Settings) -> Provider:
    timeout = provider_timeout(settings)
    match name:
        case "stripe":
            return StripeProvider(
                settings.stripe_secret_key,
                settings.stripe_api_base,
                timeout,
                connection_limits(settings),
            )
        case "paystack":
            return PaystackProvider(
                settings.paystack_secret_key,
                settings.paystack_api_base,
                timeout,
                connection_limits(settings),
            )
        case _:
            raise UnknownProviderError(
                f"unknown provider {name!r}; known: {', '.join(PROVIDER_NAMES)}"
            )


def provider_timeout(settings: Settings) -> httpx.Timeout:
    budget_s = settings.provider_timeout_s
    return httpx.Timeout(
        connect=min(CONNECT_TIMEOUT_S_MAX, budget_s), read=budget_s, write=budget_s, pool=budget_s
    )


def connection_limits(settings: Settings) -> httpx.Limits:
    """One connection per message in flight at most: a worker never queues for a socket, and
    never opens more than its concurrency allows."""
    return httpx.Limits(
        max_connections=settings.worker_concurrency,
        max_keepalive_connections=settings.worker_concurrency,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
