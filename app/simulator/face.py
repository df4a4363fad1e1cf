"""What every face of the simulator answers from: the shared books, the fault source and the
webhook sender."""

from dataclasses import dataclass

from app.simulator.faults import Faults
from app.simulator.state import SimState
from app.simulator.webhooks import WebhookSender


@dataclass(frozen=True, slots=True)
class Face:
    """A set of routes (Stripe's, Paystack's, the control endpoints) over one simulator."""

    state: SimState
    faults: Faults
    webhooks: WebhookSender
