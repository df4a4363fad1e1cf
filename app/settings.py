"""One typed settings object, read from the environment once per process."""

import os
import sys
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NoReturn, TypeVar

STRIPE_API_BASE_DEFAULT = "https://api.stripe.com"
PAYSTACK_API_BASE_DEFAULT = "https://api.paystack.co"
REDIS_SCHEMES = ("redis", "rediss", "unix")
DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
HTTP_SCHEMES = ("https", "http")

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
#: Accepts one merchant may make per second (see app.merchants.accept_rate).
MERCHANT_ACCEPT_RATE_PER_S = 1000
RATE_FIELDS = (
    "stripe_rate_per_s",
    "stripe_account_rate_per_s",
    "paystack_rate_per_s",
    "paystack_account_rate_per_s",
    "merchant_accept_rate_per_s",
)


#: What a provider key defaults to when unset: fine against the simulator, and refused by a
#: worker whose API base is the real provider's, where every charge would fail with a 401.
PLACEHOLDER_SECRET_KEY = "sk_test_paystream"
#: An operator's console token must be unguessable: 32 characters or more.
CONSOLE_TOKEN_CHARS_MIN = 32
LOG_FORMATS = ("json", "text")
PORT_MAX = 65535
#: The worker's metrics port, as Dramatiq's own Prometheus exposition uses.
WORKER_METRICS_PORT = 9191
SECRET_MASK = "**********"
FLAG_TRUE = ("true", "1", "yes")
FLAG_VALUES = (*FLAG_TRUE, "false", "0", "no")

# Outbound webhooks: a 2xx within 15 s is success (Standard Webhooks suggests 15-30 s).
WEBHOOK_TIMEOUT_S = 15
WEBHOOK_TIMEOUT_S_MAX = 30
#: A delivery is held, and its message may run, this long past its timeout (signing, storing
#: the attempt); the whole must end before the stream would reclaim the message.
WEBHOOK_HOLD_MARGIN_S = 2
WEBHOOK_SWEEP_INTERVAL_S = 5.0
WEBHOOK_SWEEP_INTERVAL_S_MAX = 300.0


class SettingsError(ValueError):
    """The environment holds values paystream refuses to start with; ``problems`` lists each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"paystream cannot start; fix the environment:\n{listed}")


class Secret(str):
    """A secret string (an API key, a signing secret, a token): used as the str it is, but its
    repr never shows it, so no repr of the settings or of a record holding one can leak it."""

    def __repr__(self) -> str:
        return f"Secret({SECRET_MASK!r})" if self else "Secret('')"


class Url(str):
    """A URL that may carry a password (``redis://:pw@host``, ``postgresql://u:pw@host``); its
    repr masks the password."""

    def __repr__(self) -> str:
        parts = urllib.parse.urlsplit(self)
        if parts.password is None:
            return f"Url({str(self)!r})"
        netloc = parts.netloc.replace(f":{parts.password}@", f":{SECRET_MASK}@", 1)
        return f"Url({urllib.parse.urlunsplit(parts._replace(netloc=netloc))!r})"


Number = TypeVar("Number", int, float)


class Environment:
    """Reads variables into typed values and collects every bad one, instead of stopping at
    the first, so one start-up tells the operator all there is to fix."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = variables
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        """The variable, or None when unset or empty (which both mean the default)."""
        value = self._variables.get(name)
        return None if value is None or value == "" else value

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def secret(self, name: str, default: str) -> Secret:
        return Secret(self.text(name, default))

    def url(self, name: str, default: str, schemes: Sequence[str]) -> Url:
        value = self.text(name, default)
        scheme = urllib.parse.urlsplit(value).scheme
        if scheme not in schemes:
            self.problems.append(f"{name} must be a {' or '.join(schemes)} URL")
        return Url(value)

    def number(self, name: str, default: Number) -> Number:
        """The variable as the type of its default."""
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return type(default)(raw)
        except ValueError:
            kind = "an integer" if isinstance(default, int) else "a number"
            # The value itself is left out: the variable might hold something secret.
            self.problems.append(f"{name} must be {kind}")
            return default

    def flag(self, name: str) -> bool:
        """A yes/no variable, off unless set to one of ``FLAG_VALUES``'s truthy spellings."""
        return self.choice(name, "false", FLAG_VALUES) in FLAG_TRUE

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        value = self.text(name, default).lower()
        if value not in choices:
            self.problems.append(f"{name} must be one of {', '.join(choices)}")
            return default
        return value


def _default_log_format() -> str:
    """JSON lines for log collectors, readable text for a person at a terminal."""
    return "text" if sys.stderr.isatty() else "json"


@dataclass(frozen=True)
class RetryPolicy:
    """How an actor retries: attempts, the backoff between them, and how long one attempt may
    run."""

    retries_max: int
    backoff_ms_min: int
    backoff_ms_max: int
    time_limit_s: int

    def retry_span_s(self, reclaim_idle_ms: int) -> int:
        """Upper bound of the time between the first and the last attempt."""
        return self.retries_max * (self.backoff_ms_max // 1000 + reclaim_idle_ms // 1000)


@dataclass(frozen=True)
class Settings:
    redis_url: Url
    database_url: Url
    stripe_secret_key: Secret
    stripe_api_base: str
    stripe_webhook_secret: Secret
    paystack_secret_key: Secret
    paystack_api_base: str
    #: Number of stream partitions; fixed for the life of a deployment because a payment's
    #: partition is part of its id and of its idempotency key's slot.
    stream_partitions: int
    idempotency_key_ttl_s: int
    #: How long the payment record stays readable from Redis (status while PostgreSQL is down).
    payment_record_ttl_s: int
    provider_timeout_s: float
    charge_policy: RetryPolicy
    refund_policy: RetryPolicy
    #: A pending stream entry idle this long past the actor's time limit is reclaimed.
    reclaim_grace_s: int
    deliveries_max: int
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
    #: The operators' console log-in token; empty turns the console off (every path 404s).
    console_token: Secret = Secret("")
    #: ``json`` (one object per line) or ``text`` (for a person at a terminal).
    log_format: str = "json"
    #: Where a worker serves its processes' metrics (summed); 0 serves none.
    worker_metrics_port: int = WORKER_METRICS_PORT
    # Outbound webhooks to merchants.
    #: How long a merchant's endpoint has to answer one delivery.
    webhook_timeout_s: int = WEBHOOK_TIMEOUT_S
    #: Multiplies the retry schedule's delays (tests shrink it; production keeps 1).
    webhook_retry_scale: float = 1.0
    #: How often a worker looks for due deliveries whose message was lost.
    webhook_sweep_interval_s: float = WEBHOOK_SWEEP_INTERVAL_S
    #: Allow ``http://`` and private, loopback and link-local endpoint addresses (local use).
    webhook_allow_private_urls: bool = False
    #: Accepts (payments and refunds) one merchant may make per second, over all web
    #: processes; 0 is no limit. Generous: it is there so one retry storm cannot starve the
    #: other merchants, not to meter anyone.
    merchant_accept_rate_per_s: int = MERCHANT_ACCEPT_RATE_PER_S
    #: Replicas that must hold an accept (and a worker's recovery point) before it is answered;
    #: 0 waits for none. 1 on a Redis Cluster: a master's failover then loses no 202.
    redis_min_replicas_acked: int = 0
    #: How long a write waits for those replicas before the answer is a 503.
    redis_replicas_ack_timeout_ms: int = 500

    def _replication_problems(self) -> Iterator[str]:
        if self.redis_min_replicas_acked < 0:
            yield "REDIS_MIN_REPLICAS_ACKED must be 0 or more"
        if self.redis_replicas_ack_timeout_ms < 1:
            yield "REDIS_REPLICAS_ACK_TIMEOUT_MS must be 1 or more"

    @property
    def reclaim_idle_ms(self) -> int:
        time_limit_s = max(self.charge_policy.time_limit_s, self.refund_policy.time_limit_s)
        return (time_limit_s + self.reclaim_grace_s) * 1000

    @property
    def charge_retry_span_s(self) -> int:
        """Upper bound of the time between a payment's first and last charge attempt."""
        return self.charge_policy.retry_span_s(self.reclaim_idle_ms)

    def problems(self) -> list[str]:
        """Every rule these values break, each named by its variable."""
        return [
            *self._limit_problems(),
            *self._key_lifetime_problems(),
            *self._worker_problems(),
            *self._console_problems(),
            *self._webhook_problems(),
            *self._replication_problems(),
        ]

    def validate(self) -> "Settings":
        problems = self.problems()
        if problems:
            raise SettingsError(problems)
        return self

    def _limit_problems(self) -> Iterator[str]:
        if not 1 <= self.stream_partitions <= 256:
            yield "STREAM_PARTITIONS must be within 1..256"
        time_limit_s = min(self.charge_policy.time_limit_s, self.refund_policy.time_limit_s)
        if self.provider_timeout_s >= time_limit_s:
            yield "PROVIDER_TIMEOUT_S must be below CHARGE_TIME_LIMIT_S and REFUND_TIME_LIMIT_S"
        for name in RATE_FIELDS:
            if getattr(self, name) < 0:
                yield f"{name.upper()} must be 0 (no limit) or positive"
        if not 1 <= self.requires_action_timeout_s <= REQUIRES_ACTION_TIMEOUT_S_MAX:
            yield f"REQUIRES_ACTION_TIMEOUT_S must be within 1..{REQUIRES_ACTION_TIMEOUT_S_MAX}"

    def _key_lifetime_problems(self) -> Iterator[str]:
        if self.idempotency_key_ttl_s < IDEMPOTENCY_KEY_TTL_S_MIN:
            yield f"IDEMPOTENCY_KEY_TTL_S must be at least {IDEMPOTENCY_KEY_TTL_S_MIN} s"
        elif self.idempotency_key_ttl_s < self.charge_retry_span_s:
            yield (
                "IDEMPOTENCY_KEY_TTL_S is shorter than the workers' longest retry span "
                f"({self.charge_retry_span_s} s): a late retry could outlive its key"
            )
        for name, policy in (("charge", self.charge_policy), ("refund", self.refund_policy)):
            span_s = policy.retry_span_s(self.reclaim_idle_ms)
            if span_s >= PROVIDER_KEY_WINDOW_S:
                yield (
                    f"the workers' {name} retry span ({span_s} s; {name.upper()}_RETRIES_MAX, "
                    f"{name.upper()}_BACKOFF_MS_MAX) must stay inside the providers' "
                    f"idempotency key window ({PROVIDER_KEY_WINDOW_S} s)"
                )

    def _worker_problems(self) -> Iterator[str]:
        if not 1 <= self.worker_concurrency <= WORKER_CONCURRENCY_MAX:
            yield f"WORKER_CONCURRENCY must be within 1..{WORKER_CONCURRENCY_MAX}"
        if not 0 <= self.worker_shutdown_grace_s <= WORKER_SHUTDOWN_GRACE_S_MAX:
            yield f"WORKER_SHUTDOWN_GRACE_S must be within 0..{WORKER_SHUTDOWN_GRACE_S_MAX}"
        if not 0 <= self.worker_metrics_port <= PORT_MAX:
            yield f"WORKER_METRICS_PORT must be within 0..{PORT_MAX} (0: none)"

    def _console_problems(self) -> Iterator[str]:
        if self.console_token and len(self.console_token) < CONSOLE_TOKEN_CHARS_MIN:
            yield (
                f"CONSOLE_TOKEN must be at least {CONSOLE_TOKEN_CHARS_MIN} characters "
                "(or unset, which turns the console off)"
            )

    def _webhook_problems(self) -> Iterator[str]:
        if not 1 <= self.webhook_timeout_s <= WEBHOOK_TIMEOUT_S_MAX:
            yield f"WEBHOOK_TIMEOUT_S must be within 1..{WEBHOOK_TIMEOUT_S_MAX}"
        elif self.webhook_timeout_s + WEBHOOK_HOLD_MARGIN_S >= self.reclaim_idle_ms // 1000:
            yield (
                f"WEBHOOK_TIMEOUT_S plus {WEBHOOK_HOLD_MARGIN_S} s must stay below the reclaim "
                "idle (CHARGE_TIME_LIMIT_S + RECLAIM_GRACE_S): a slow delivery would be "
                "reclaimed and sent twice"
            )
        if not 0 < self.webhook_retry_scale <= 1:
            yield "WEBHOOK_RETRY_SCALE must be above 0 and at most 1"
        if not 0 < self.webhook_sweep_interval_s <= WEBHOOK_SWEEP_INTERVAL_S_MAX:
            yield (
                "WEBHOOK_SWEEP_INTERVAL_S must be above 0 and at most "
                f"{WEBHOOK_SWEEP_INTERVAL_S_MAX}"
            )

    def provider_problems(self) -> list[str]:
        """What stops a worker, though not a web process: a provider key left at its
        placeholder while the provider's API base is the real provider's, where every charge
        would be refused and dead-lettered hours later."""
        problems = []
        for name, key, base, real_base in (
            ("STRIPE", self.stripe_secret_key, self.stripe_api_base, STRIPE_API_BASE_DEFAULT),
            (
                "PAYSTACK",
                self.paystack_secret_key,
                self.paystack_api_base,
                PAYSTACK_API_BASE_DEFAULT,
            ),
        ):
            if key == PLACEHOLDER_SECRET_KEY and base.rstrip("/") == real_base:
                problems.append(
                    f"{name}_SECRET_KEY is unset (a placeholder) while {name}_API_BASE is the "
                    f"real provider's ({real_base}): set the key, or point the base elsewhere"
                )
        return problems


def _retry_policy(env: Environment, actor: str) -> RetryPolicy:
    """``CHARGE_RETRIES_MAX``, ``CHARGE_BACKOFF_MS_MIN`` … for ``actor`` ``CHARGE``."""
    return RetryPolicy(
        retries_max=env.number(f"{actor}_RETRIES_MAX", 12),
        backoff_ms_min=env.number(f"{actor}_BACKOFF_MS_MIN", 500),
        backoff_ms_max=env.number(f"{actor}_BACKOFF_MS_MAX", 300_000),
        time_limit_s=env.number(f"{actor}_TIME_LIMIT_S", 60),
    )


def _read(env: Environment) -> Settings:
    return Settings(
        redis_url=env.url("REDIS_URL", "redis://127.0.0.1:6379/0", REDIS_SCHEMES),
        database_url=env.url(
            "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres", DATABASE_SCHEMES
        ),
        stripe_secret_key=env.secret("STRIPE_SECRET_KEY", PLACEHOLDER_SECRET_KEY),
        stripe_api_base=env.url("STRIPE_API_BASE", STRIPE_API_BASE_DEFAULT, HTTP_SCHEMES),
        stripe_webhook_secret=env.secret("STRIPE_WEBHOOK_SECRET", ""),
        paystack_secret_key=env.secret("PAYSTACK_SECRET_KEY", PLACEHOLDER_SECRET_KEY),
        paystack_api_base=env.url("PAYSTACK_API_BASE", PAYSTACK_API_BASE_DEFAULT, HTTP_SCHEMES),
        stream_partitions=env.number("STREAM_PARTITIONS", 8),
        idempotency_key_ttl_s=env.number("IDEMPOTENCY_KEY_TTL_S", 7 * 24 * 3600),
        payment_record_ttl_s=env.number("PAYMENT_RECORD_TTL_S", 30 * 24 * 3600),
        provider_timeout_s=env.number("PROVIDER_TIMEOUT_S", 20.0),
        charge_policy=_retry_policy(env, "CHARGE"),
        refund_policy=_retry_policy(env, "REFUND"),
        reclaim_grace_s=env.number("RECLAIM_GRACE_S", 30),
        deliveries_max=env.number("DELIVERIES_MAX", 10),
        worker_concurrency=env.number("WORKER_CONCURRENCY", WORKER_CONCURRENCY),
        worker_shutdown_grace_s=env.number("WORKER_SHUTDOWN_GRACE_S", WORKER_SHUTDOWN_GRACE_S),
        stripe_rate_per_s=env.number("STRIPE_RATE_PER_S", 0),
        stripe_account_rate_per_s=env.number(
            "STRIPE_ACCOUNT_RATE_PER_S", STRIPE_ACCOUNT_RATE_PER_S
        ),
        paystack_rate_per_s=env.number("PAYSTACK_RATE_PER_S", 0),
        paystack_account_rate_per_s=env.number(
            "PAYSTACK_ACCOUNT_RATE_PER_S", PAYSTACK_ACCOUNT_RATE_PER_S
        ),
        requires_action_timeout_s=env.number(
            "REQUIRES_ACTION_TIMEOUT_S", REQUIRES_ACTION_TIMEOUT_S
        ),
        console_token=env.secret("CONSOLE_TOKEN", ""),
        log_format=env.choice("LOG_FORMAT", _default_log_format(), LOG_FORMATS),
        worker_metrics_port=env.number("WORKER_METRICS_PORT", WORKER_METRICS_PORT),
        webhook_timeout_s=env.number("WEBHOOK_TIMEOUT_S", WEBHOOK_TIMEOUT_S),
        webhook_retry_scale=env.number("WEBHOOK_RETRY_SCALE", 1.0),
        webhook_sweep_interval_s=env.number("WEBHOOK_SWEEP_INTERVAL_S", WEBHOOK_SWEEP_INTERVAL_S),
        webhook_allow_private_urls=env.flag("WEBHOOK_ALLOW_PRIVATE_URLS"),
        merchant_accept_rate_per_s=env.number(
            "MERCHANT_ACCEPT_RATE_PER_S", MERCHANT_ACCEPT_RATE_PER_S
        ),
        redis_min_replicas_acked=env.number("REDIS_MIN_REPLICAS_ACKED", 0),
        redis_replicas_ack_timeout_ms=env.number(
            "REDIS_REPLICAS_ACK_TIMEOUT_MS", Settings.redis_replicas_ack_timeout_ms
        ),
    )


def _port_problems(env: Environment) -> list[str]:
    """PORT is read by the Procfile's shell, not by paystream; checked here all the same, so
    a bad one is reported with the rest instead of as uvicorn's own error."""
    port = env.number("PORT", 8000)
    return [] if 1 <= port <= PORT_MAX else [f"PORT must be within 1..{PORT_MAX}"]


def load(variables: Mapping[str, str] | None = None) -> Settings:
    """The settings from ``variables`` (default: the environment); ``SettingsError`` lists
    every bad variable at once."""
    env = Environment(os.environ if variables is None else variables)
    config = _read(env)
    port_problems = _port_problems(env)
    problems = [*env.problems, *port_problems, *config.problems()]
    if problems:
        raise SettingsError(problems)
    return config


def exit_on_bad_settings(problems: Sequence[str]) -> NoReturn:
    """One message listing every problem, on stderr, and exit status 2: no traceback, which
    would bury the message and tell the operator nothing more."""
    print(SettingsError(problems), file=sys.stderr)
    raise SystemExit(2)


@cache
def settings() -> Settings:
    """This process's settings; a bad environment ends the process (see exit_on_bad_settings)."""
    try:
        return load()
    except SettingsError as error:
        exit_on_bad_settings(error.problems)


def worker_settings() -> Settings:
    """``settings()``, refusing what would make a worker fail every charge."""
    config = settings()
    problems = config.provider_problems()
    if problems:
        exit_on_bad_settings(problems)
    return config
