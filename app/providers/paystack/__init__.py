"""Paystack: the httpx wiring in ``client``; wire vocabulary and mapping in ``transformers``."""
