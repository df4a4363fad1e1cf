"""Stripe: the SDK wiring in ``client``; wire vocabulary and mapping in ``transformers``."""
