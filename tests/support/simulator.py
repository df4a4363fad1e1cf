"""The provider simulator's control surface, for tests that run it as a real process."""

from typing import Any

import httpx

from app.simulator.config import HANG_MS_DEFAULT
from app.simulator.webhooks import STRIPE_WEBHOOK_SECRET_DEFAULT

#: Fault rates and latency back to zero, no burst, no rules: no test inherits another's faults.
FAULT_FREE: dict[str, object] = {
    "latency_distribution": "uniform",
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "latency_p99_ms": 0,
    "fail_before_rate": 0,
    "fail_after_rate": 0,
    "hang_after_rate": 0,
    "hang_ms": HANG_MS_DEFAULT,
    "rate_limit_rate": 0,
    "rate_limit_burst_s": 0,
    "rules": {},
    "stripe_webhook_url": None,
    "paystack_webhook_url": None,
    "stripe_webhook_secret": STRIPE_WEBHOOK_SECRET_DEFAULT,
    "webhook_delay_rate": 0,
    "webhook_delay_ms": 1000,
    "webhook_duplicate_rate": 0,
    "webhook_reorder_rate": 0,
}
CONTROL_TIMEOUT_S = 5.0
#: Any secret key opens the simulator's provider faces.
SECRET_KEY = "sk_test_paystream"


class Simulator:
    """Faults in, movements of money out."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def configure(self, **changes: object) -> None:
        response = httpx.post(
            f"{self.base_url}/_sim/config", json=changes, timeout=CONTROL_TIMEOUT_S
        )
        response.raise_for_status()

    def charges(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/_sim/charges", timeout=CONTROL_TIMEOUT_S)
        response.raise_for_status()
        return list(response.json()["charges"])

    def charges_for(self, payment_id: str) -> list[dict[str, Any]]:
        return [charge for charge in self.charges() if charge["payment_id"] == payment_id]

    def intent(self, intent_id: str) -> dict[str, Any]:
        """A PaymentIntent as Stripe's face shows it."""
        return self._provider_object(f"/v1/payment_intents/{intent_id}")

    def stripe_refund(self, refund_id: str) -> dict[str, Any]:
        return self._provider_object(f"/v1/refunds/{refund_id}")

    def transaction(self, reference: str) -> dict[str, Any]:
        """A Paystack transaction as verify shows it."""
        return dict(self._provider_object(f"/transaction/verify/{reference}")["data"])

    def _provider_object(self, path: str) -> dict[str, Any]:
        response = httpx.get(
            self.base_url + path,
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
            timeout=CONTROL_TIMEOUT_S,
        )
        response.raise_for_status()
        return dict(response.json())

    def authenticate(self, kind: str, object_id: str, succeed: bool = True) -> int:
        """The customer completes (or fails) authentication on a Stripe intent (``kind``
        "payment_intents") or a paused Paystack charge ("transactions"); the answer's status."""
        response = httpx.post(
            f"{self.base_url}/_sim/{kind}/{object_id}/authenticate",
            json={"succeed": succeed},
            timeout=CONTROL_TIMEOUT_S,
        )
        return response.status_code

    def refunds(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/_sim/refunds", timeout=CONTROL_TIMEOUT_S)
        response.raise_for_status()
        return list(response.json()["refunds"])

    def refunds_for(self, payment_id: str) -> list[dict[str, Any]]:
        return [refund for refund in self.refunds() if refund["payment_id"] == payment_id]
