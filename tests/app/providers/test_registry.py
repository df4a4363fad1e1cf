"""Adapters by name, with their HTTP options spelled out."""

import dataclasses

import pytest

import app.settings
from app.providers import registry

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

    assert registry.provider_timeout(slow).as_dict() == {
        "connect": registry.CONNECT_TIMEOUT_S_MAX,
        "read": 20.0,
        "write": 20.0,
        "pool": 20.0,
    }
    assert registry.provider_timeout(quick).connect == 0.5
