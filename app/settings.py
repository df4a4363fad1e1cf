"""One typed settings object, read from the environment once per process."""

import os
from dataclasses import dataclass
from functools import cache
from typing import TypeVar

STRIPE_API_BASE_DEFAULT = "https://api.stripe.com"
PAYSTACK_API_BASE_DEFAULT = "https://api.paystack.co"

#: Stripe prunes its idempotency keys after 24 h; ours must live at least as long so a late
#: client retry can never start a second payment.
IDEMPOTENCY_KEY_TTL_S_MIN = 24 * 3600


#: Stripe may prune its idempotency keys once 24 h old: a charge retried later could start a
#: second PaymentIntent, so every retry of one charge must happen within this span.
PROVIDER_KEY_WINDOW_S = 24 * 3600


#: Messages in flight per worker process by default: enough for 500 payments/s at the ~400 ms
#: two provider calls take, with room for a slow tail.
WORKER_CONCURRENCY = 512
#: Sockets and coroutines stay within what one process and one provider account can use.
WORKER_CONCURRENCY_MAX = 10_000
#: Platforms kill a process 30 s after SIGTERM; the grace plus the rest of a shutdown fits.
WORKER_SHUTDOWN_GRACE_S = 15
WORKER_SHUTDOWN_GRACE_S_MAX = 25

#: How long a customer has to complete 3-D Secure before the payment fails (and its Stripe
#: PaymentIntent is canceled); a week at most, far inside the record's lifetime.
REQUIRES_ACTION_TIMEOUT_S = 24 * 3600
REQUIRES_ACTION_TIMEOUT_S_MAX = 7 * 24 * 3600

#: The providers' documented live-mode limits per account: Stripe 100 operations/s; Paystack
#: 1,200 charge_authorization calls per minute.
STRIPE_ACCOUNT_RATE_PER_S = 100
PAYSTACK_ACCOUNT_RATE_PER_S = 20
RATE_FIELDS = (
    "stripe_rate_per_s",
    "stripe_account_rate_per_s",
    "paystack_rate_per_s",
    "paystack_account_rate_per_s",
)


class SettingsError(ValueError):
    """The environment holds a value paystream refuses to start with."""


Number = TypeVar("Number", int, float)


def _number(name: str, default: Number) -> Number:
    """The variable as the type of its default; unset or empty means the default."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return type(default)(raw)
    except ValueError as error:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise SettingsError(f"{name} must be {kind}, got {raw!r}") from error


@dataclass(frozen=True)
class Settings:
    redis_url: str
    database_url: str
    stripe_secret_key: str
    stripe_api_base: str
    stripe_webhook_secret: str
    paystack_secret_key: str
    paystack_api_base: str
    #: Number of stream partitions; fixed for the life of a deployment because a payment's
    #: partition is part of its id and of its idempotency key's slot.
    stream_partitions: int
    idempotency_key_ttl_s: int
    #: How long the payment record stays readable from Redis (status while PostgreSQL is down).
    payment_record_ttl_s: int
    provider_timeout_s: float
    charge_time_limit_s: int
    #: A pending stream entry idle this long past the actor's time limit is reclaimed.
    reclaim_grace_s: int
    deliveries_max: int
    charge_retries_max: int
    charge_backoff_ms_min: int
    charge_backoff_ms_max: int
    refund_time_limit_s: int
    refund_retries_max: int
    refund_backoff_ms_min: int
    refund_backoff_ms_max: int
    #: Messages one worker process keeps in flight at once: each waits on the network, not on a
    #: thread, so hundreds fit; bounded so a backlog cannot open unbounded sockets.
    worker_concurrency: int
    #: How long a stopping worker lets messages in flight finish before handing them back.
    worker_shutdown_grace_s: int
    #: Provider calls per second, to the provider as a whole and to each of its accounts (API
    #: keys); 0 is no limit.
    stripe_rate_per_s: int
    stripe_account_rate_per_s: int
    paystack_rate_per_s: int
    paystack_account_rate_per_s: int
    #: How long a customer has to complete 3-D Secure.
    requires_action_timeout_s: int

    @property
    def reclaim_idle_ms(self) -> int:
        time_limit_s = max(self.charge_time_limit_s, self.refund_time_limit_s)
        return (time_limit_s + self.reclaim_grace_s) * 1000

    @property
    def charge_retry_span_s(self) -> int:
        """Upper bound of the time between a payment's first and last charge attempt."""
        return self.charge_retries_max * (
            self.charge_backoff_ms_max // 1000 + self.reclaim_idle_ms // 1000
        )

    @property
    def refund_retry_span_s(self) -> int:
        """Upper bound of the time between a refund's first and last attempt."""
        return self.refund_retries_max * (
            self.refund_backoff_ms_max // 1000 + self.reclaim_idle_ms // 1000
        )

    def validate(self) -> "Settings":
        if self.stream_partitions < 1 or self.stream_partitions > 256:
            raise SettingsError("STREAM_PARTITIONS must be within 1..256")
        if self.idempotency_key_ttl_s < IDEMPOTENCY_KEY_TTL_S_MIN:
            raise SettingsError(
                f"IDEMPOTENCY_KEY_TTL_S must be at least {IDEMPOTENCY_KEY_TTL_S_MIN} s"
            )
        if self.idempotency_key_ttl_s < self.charge_retry_span_s:
            raise SettingsError(
                "IDEMPOTENCY_KEY_TTL_S is shorter than the workers' longest retry span "
                f"({self.charge_retry_span_s} s): a late retry could outlive its key"
            )
        for name, span_s in (
            ("charge", self.charge_retry_span_s),
            ("refund", self.refund_retry_span_s),
        ):
            if span_s >= PROVIDER_KEY_WINDOW_S:
                raise SettingsError(
                    f"the workers' {name} retry span ({span_s} s) must stay inside the "
                    f"providers' idempotency key window ({PROVIDER_KEY_WINDOW_S} s)"
                )
        if self.provider_timeout_s >= min(self.charge_time_limit_s, self.refund_time_limit_s):
            raise SettingsError(
                "PROVIDER_TIMEOUT_S must be below CHARGE_TIME_LIMIT_S and REFUND_TIME_LIMIT_S"
            )
        if not 1 <= self.worker_concurrency <= WORKER_CONCURRENCY_MAX:
            raise SettingsError(f"WORKER_CONCURRENCY must be within 1..{WORKER_CONCURRENCY_MAX}")
        if not 0 <= self.worker_shutdown_grace_s <= WORKER_SHUTDOWN_GRACE_S_MAX:
            raise SettingsError(
                f"WORKER_SHUTDOWN_GRACE_S must be within 0..{WORKER_SHUTDOWN_GRACE_S_MAX}"
            )
        if not 1 <= self.requires_action_timeout_s <= REQUIRES_ACTION_TIMEOUT_S_MAX:
            raise SettingsError(
                f"REQUIRES_ACTION_TIMEOUT_S must be within 1..{REQUIRES_ACTION_TIMEOUT_S_MAX}"
            )
        for name in RATE_FIELDS:
            if getattr(self, name) < 0:
                raise SettingsError(f"{name.upper()} must be 0 (no limit) or positive")
        return self


def load() -> Settings:
    env = os.environ.get
    return Settings(
        redis_url=env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        database_url=env("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        stripe_secret_key=env("STRIPE_SECRET_KEY", "sk_test_paystream"),
        stripe_api_base=env("STRIPE_API_BASE", STRIPE_API_BASE_DEFAULT),
        stripe_webhook_secret=env("STRIPE_WEBHOOK_SECRET", ""),
        paystack_secret_key=env("PAYSTACK_SECRET_KEY", "sk_test_paystream"),
        paystack_api_base=env("PAYSTACK_API_BASE", PAYSTACK_API_BASE_DEFAULT),
        stream_partitions=_number("STREAM_PARTITIONS", 8),
        idempotency_key_ttl_s=_number("IDEMPOTENCY_KEY_TTL_S", 7 * 24 * 3600),
        payment_record_ttl_s=_number("PAYMENT_RECORD_TTL_S", 30 * 24 * 3600),
        provider_timeout_s=_number("PROVIDER_TIMEOUT_S", 20.0),
        charge_time_limit_s=_number("CHARGE_TIME_LIMIT_S", 60),
        reclaim_grace_s=_number("RECLAIM_GRACE_S", 30),
        deliveries_max=_number("DELIVERIES_MAX", 10),
        charge_retries_max=_number("CHARGE_RETRIES_MAX", 12),
        charge_backoff_ms_min=_number("CHARGE_BACKOFF_MS_MIN", 500),
        charge_backoff_ms_max=_number("CHARGE_BACKOFF_MS_MAX", 300_000),
        refund_time_limit_s=_number("REFUND_TIME_LIMIT_S", 60),
        refund_retries_max=_number("REFUND_RETRIES_MAX", 12),
        refund_backoff_ms_min=_number("REFUND_BACKOFF_MS_MIN", 500),
        refund_backoff_ms_max=_number("REFUND_BACKOFF_MS_MAX", 300_000),
        worker_concurrency=_number("WORKER_CONCURRENCY", WORKER_CONCURRENCY),
        worker_shutdown_grace_s=_number("WORKER_SHUTDOWN_GRACE_S", WORKER_SHUTDOWN_GRACE_S),
        stripe_rate_per_s=_number("STRIPE_RATE_PER_S", 0),
        stripe_account_rate_per_s=_number("STRIPE_ACCOUNT_RATE_PER_S", STRIPE_ACCOUNT_RATE_PER_S),
        paystack_rate_per_s=_number("PAYSTACK_RATE_PER_S", 0),
        paystack_account_rate_per_s=_number(
            "PAYSTACK_ACCOUNT_RATE_PER_S", PAYSTACK_ACCOUNT_RATE_PER_S
        ),
        requires_action_timeout_s=_number("REQUIRES_ACTION_TIMEOUT_S", REQUIRES_ACTION_TIMEOUT_S),
    ).validate()


@cache
def settings() -> Settings:
    return load()
