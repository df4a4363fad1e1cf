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
        ("WEBHOOK_TIMEOUT_S", "0"),
        ("WEBHOOK_TIMEOUT_S", "31"),
        ("WEBHOOK_RETRY_SCALE", "0"),
        ("WEBHOOK_RETRY_SCALE", "2"),
        ("WEBHOOK_SWEEP_INTERVAL_S", "0"),
        ("WEBHOOK_ALLOW_PRIVATE_URLS", "maybe"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError):
        load()


def test_every_bad_variable_is_reported_at_once() -> None:
    bad = {
        "STREAM_PARTITIONS": "eight",
        "PROVIDER_TIMEOUT_S": "soon",
        "WORKER_CONCURRENCY": "0",
        "LOG_FORMAT": "xml",
        "CONSOLE_TOKEN": "too-short",
        "REDIS_URL": "http://127.0.0.1:6379",
        "PORT": "http",
    }

    with pytest.raises(SettingsError) as refused:
        load(bad)

    named = " ".join(refused.value.problems)
    for name in bad:
        assert name in named, f"{name} not reported: {refused.value.problems}"


SECRETS = {
    "STRIPE_SECRET_KEY": "sk_live_stripe_secret_value",
    "STRIPE_WEBHOOK_SECRET": "whsec_stripe_webhook_value",
    "PAYSTACK_SECRET_KEY": "sk_live_paystack_secret_value",
    "CONSOLE_TOKEN": "console-token-" + "c" * 32,
    "DATABASE_URL": "postgresql://app:database-password@db.internal:5432/paystream",
    "REDIS_URL": "redis://:redis-password@cache.internal:6379/0",
}


def test_no_repr_shows_a_secret() -> None:
    config = load(SECRETS)
    shown = repr(config) + repr(config.stripe_secret_key) + repr(config.database_url)

    for secret in ("sk_live_", "whsec_", "console-token", "database-password", "redis-password"):
        assert secret not in shown
    # Still the values themselves where the code uses them.
    assert config.stripe_secret_key == SECRETS["STRIPE_SECRET_KEY"]
    assert f"{config.redis_url}" == SECRETS["REDIS_URL"]
    assert "cache.internal" in shown


def test_a_placeholder_key_against_the_real_provider_stops_a_worker() -> None:
    default = load({})
    pointed_away = load(
        {"STRIPE_API_BASE": "http://127.0.0.1:8090", "PAYSTACK_API_BASE": "http://127.0.0.1:8090"}
    )
    keyed = load({"STRIPE_SECRET_KEY": "sk_live_x", "PAYSTACK_SECRET_KEY": "sk_live_y"})

    assert [problem.split("_")[0] for problem in default.provider_problems()] == [
        "STRIPE",
        "PAYSTACK",
    ]
    assert default.problems() == []  # a web process takes no provider key
    assert keyed.provider_problems() == []
    assert pointed_away.provider_problems() == []


def test_a_webhook_timeout_must_end_before_its_message_is_reclaimed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHARGE_TIME_LIMIT_S", "5")
    monkeypatch.setenv("REFUND_TIME_LIMIT_S", "5")
    monkeypatch.setenv("RECLAIM_GRACE_S", "2")
    monkeypatch.setenv("PROVIDER_TIMEOUT_S", "2")

    with pytest.raises(SettingsError, match="WEBHOOK_TIMEOUT_S"):
        load()
    monkeypatch.setenv("WEBHOOK_TIMEOUT_S", "4")
    assert load().webhook_timeout_s == 4


@pytest.mark.parametrize(("value", "allowed"), [("true", True), ("1", True), ("false", False)])
def test_private_webhook_urls_are_allowed_only_when_asked(
    monkeypatch: pytest.MonkeyPatch, value: str, allowed: bool
) -> None:
    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_URLS", value)
    assert load().webhook_allow_private_urls is allowed
