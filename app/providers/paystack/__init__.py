"""Paystack: the HTTP wiring in ``client``; wire vocabulary and mapping in ``transformers``."""
