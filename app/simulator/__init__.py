"""Provider simulator: one in-memory HTTP server that answers as Stripe and as Paystack."""

from app.simulator.app import create_app
from app.simulator.cli import main
from app.simulator.config import SimConfig

__all__ = ["SimConfig", "create_app", "main"]
