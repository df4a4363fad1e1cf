"""Provider adapters by name, built from the settings with every HTTP option spelled out."""

from app.providers.base import Provider
from app.providers.http import HttpOptions
from app.providers.paystack.client import PaystackProvider
from app.providers.stripe.client import StripeProvider
from app.settings import Settings

PROVIDER_NAMES = ("stripe", "paystack")


class UnknownProviderError(ValueError):
    """A provider name no adapter answers to."""


def http_options(settings: Settings) -> HttpOptions:
    return HttpOptions(settings.provider_timeout_s, settings.worker_concurrency)


def build_provider(name: str, settings: Settings) -> Provider:
    http = http_options(settings)
    match name:
        case "stripe":
            return StripeProvider(settings.stripe_secret_key, settings.stripe_api_base, http)
        case "paystack":
            return PaystackProvider(settings.paystack_secret_key, settings.paystack_api_base, http)
        case _:
            raise UnknownProviderError(
                f"unknown provider {name!r}; known: {', '.join(PROVIDER_NAMES)}"
            )
