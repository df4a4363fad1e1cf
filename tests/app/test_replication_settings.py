"""REDIS_MIN_REPLICAS_ACKED and its timeout: none waited for by default, bad values refused."""

import pytest

from app.settings import SettingsError, load


def test_no_replica_is_waited_for_by_default() -> None:
    config = load({})
    assert (config.redis_min_replicas_acked, config.redis_replicas_ack_timeout_ms) == (0, 500)


def test_replicas_and_their_timeout_are_read() -> None:
    config = load({"REDIS_MIN_REPLICAS_ACKED": "1", "REDIS_REPLICAS_ACK_TIMEOUT_MS": "250"})
    assert (config.redis_min_replicas_acked, config.redis_replicas_ack_timeout_ms) == (1, 250)


def test_a_negative_count_and_a_zero_timeout_are_refused() -> None:
    with pytest.raises(SettingsError) as refused:
        load({"REDIS_MIN_REPLICAS_ACKED": "-1", "REDIS_REPLICAS_ACK_TIMEOUT_MS": "0"})
    assert "REDIS_MIN_REPLICAS_ACKED" in str(refused.value)
    assert "REDIS_REPLICAS_ACK_TIMEOUT_MS" in str(refused.value)
