"""`paystream simulator`: parse the flags, then serve the simulator with uvicorn."""

import argparse
import json
import sys

import uvicorn

from app.simulator.app import create_app
from app.simulator.config import HANG_MS_DEFAULT, LatencyDistribution, SimConfig
from app.simulator.webhooks import STRIPE_WEBHOOK_SECRET_DEFAULT, WEBHOOK_FIELDS, WebhookConfig

HOST_DEFAULT = "127.0.0.1"
#: Connections idle this long are closed; long enough for a worker's pooled keep-alive.
KEEP_ALIVE_S = 30


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paystream simulator",
        description="In-memory Stripe and Paystack stand-in for local runs and tests.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default=HOST_DEFAULT)
    parser.add_argument(
        "--latency-distribution",
        choices=[distribution.value for distribution in LatencyDistribution],
        default=LatencyDistribution.UNIFORM.value,
    )
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="mean (uniform) or median (lognormal)"
    )
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, help="uniform ± jitter")
    parser.add_argument("--latency-p99-ms", type=float, default=0.0, help="lognormal p99")
    parser.add_argument(
        "--fail-before-rate", type=float, default=0.0, help="fraction of charges: 500, no effect"
    )
    parser.add_argument(
        "--fail-after-rate", type=float, default=0.0, help="fraction of charges: done, then 500"
    )
    parser.add_argument(
        "--hang-after-rate", type=float, default=0.0, help="fraction of charges: done, then hang"
    )
    parser.add_argument(
        "--hang-ms", type=float, default=HANG_MS_DEFAULT, help="how long a hung answer waits"
    )
    parser.add_argument("--rate-limit-rate", type=float, default=0.0, help="fraction: 429")
    parser.add_argument(
        "--rate-limit-burst-s",
        type=float,
        default=0.0,
        help="every charge 429 for this long after start",
    )
    parser.add_argument(
        "--rules", default="{}", help='JSON: {"pm_card_visa": {"fail_after_rate": 0.5}, ...}'
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of every random draw")
    parser.add_argument("--stripe-webhook-url", default=None, help="send Stripe's events here")
    parser.add_argument("--paystack-webhook-url", default=None, help="send Paystack's here")
    parser.add_argument(
        "--stripe-webhook-secret",
        default=STRIPE_WEBHOOK_SECRET_DEFAULT,
        help="Stripe endpoint signing secret (Paystack signs with the charge's API key)",
    )
    parser.add_argument("--webhook-delay-rate", type=float, default=0.0, help="fraction held back")
    parser.add_argument("--webhook-delay-ms", type=float, default=1000.0, help="for how long")
    parser.add_argument("--webhook-duplicate-rate", type=float, default=0.0, help="sent twice")
    parser.add_argument(
        "--webhook-reorder-rate", type=float, default=0.0, help="overtaken by the next one"
    )
    return parser


def parse_config(parser: argparse.ArgumentParser, arguments: argparse.Namespace) -> SimConfig:
    try:
        # The same checks as `POST /_sim/config`, so a flag and the endpoint accept alike.
        return SimConfig(seed=arguments.seed).updated(
            {
                "latency_distribution": arguments.latency_distribution,
                "latency_ms": arguments.latency_ms,
                "latency_jitter_ms": arguments.latency_jitter_ms,
                "latency_p99_ms": arguments.latency_p99_ms,
                "fail_before_rate": arguments.fail_before_rate,
                "fail_after_rate": arguments.fail_after_rate,
                "hang_after_rate": arguments.hang_after_rate,
                "hang_ms": arguments.hang_ms,
                "rate_limit_rate": arguments.rate_limit_rate,
                "rate_limit_burst_s": arguments.rate_limit_burst_s,
                "rules": json.loads(arguments.rules),
            }
        )
    except ValueError as error:
        # ConfigError and the JSONDecodeError of a malformed --rules are both ValueErrors.
        parser.error(str(error))


def parse_webhook_config(
    parser: argparse.ArgumentParser, arguments: argparse.Namespace
) -> WebhookConfig:
    try:
        return WebhookConfig().updated({name: getattr(arguments, name) for name in WEBHOOK_FIELDS})
    except ValueError as error:
        parser.error(str(error))


def main(argv: list[str]) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    config = parse_config(parser, arguments)
    webhooks = parse_webhook_config(parser, arguments)
    print(
        f"paystream simulator on http://{arguments.host}:{arguments.port}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        create_app(config, webhooks),
        host=arguments.host,
        port=arguments.port,
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return 0
