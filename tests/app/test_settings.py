"""Settings refuse, at start-up, values that would break the promises."""

import pytest

from app.settings import IDEMPOTENCY_KEY_TTL_S_MIN, SettingsError, load


def test_the_defaults_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDEMPOTENCY_KEY_TTL_S", raising=False)

    config = load()

    assert config.idempotency_key_ttl_s >= max(
        IDEMPOTENCY_KEY_TTL_S_MIN, config.charge_retry_span_s
    )


def test_a_key_lifetime_under_24_hours_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_KEY_TTL_S", str(IDEMPOTENCY_KEY_TTL_S_MIN - 1))

    with pytest.raises(SettingsError, match="at least"):
        load()


def test_a_key_lifetime_shorter_than_the_retry_span_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDEMPOTENCY_KEY_TTL_S", str(IDEMPOTENCY_KEY_TTL_S_MIN))
    monkeypatch.setenv("CHARGE_RETRIES_MAX", "1000")

    with pytest.raises(SettingsError, match="retry span"):
        load()


def test_a_retry_span_past_the_providers_key_window_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDEMPOTENCY_KEY_TTL_S", str(30 * 24 * 3600))
    monkeypatch.setenv("CHARGE_RETRIES_MAX", "1000")

    with pytest.raises(SettingsError, match="key window"):
        load()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STREAM_PARTITIONS", "0"),
        ("STREAM_PARTITIONS", "257"),
        ("STREAM_PARTITIONS", "eight"),
        ("PROVIDER_TIMEOUT_S", "soon"),
        ("PROVIDER_TIMEOUT_S", "90"),
        ("REQUIRES_ACTION_TIMEOUT_S", "0"),
        ("REQUIRES_ACTION_TIMEOUT_S", str(8 * 24 * 3600)),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError):
        load()
