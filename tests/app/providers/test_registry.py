"""Adapters by name, with their HTTP options spelled out."""

import dataclasses

import aiohttp
import pytest

import app.settings
from app.providers import registry
from app.providers.http import CONNECT_TIMEOUT_S_MAX

pytestmark = pytest.mark.anyio


async def test_every_name_builds_its_adapter() -> None:
    settings = app.settings.load()

    for name in registry.PROVIDER_NAMES:
        provider = registry.build_provider(name, settings)
        try:
            assert provider.name == name
        finally:
            await provider.aclose()


def test_an_unknown_name_is_refused() -> None:
    with pytest.raises(registry.UnknownProviderError, match="adyen"):
        registry.build_provider("adyen", app.settings.load())


def test_timeouts_come_from_the_settings_with_a_short_connect() -> None:
    slow = dataclasses.replace(app.settings.load(), provider_timeout_s=20.0)
    quick = dataclasses.replace(slow, provider_timeout_s=0.5)

    assert registry.http_options(slow).timeout() == aiohttp.ClientTimeout(
        total=20.0, connect=CONNECT_TIMEOUT_S_MAX
    )
    assert registry.http_options(quick).timeout().connect == 0.5


def test_a_worker_opens_at_most_one_connection_per_message_in_flight() -> None:
    settings = dataclasses.replace(app.settings.load(), worker_concurrency=37)

    assert registry.http_options(settings).connections_max == 37
