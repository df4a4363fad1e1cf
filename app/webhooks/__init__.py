"""Webhooks to merchants: their endpoints, the Standard Webhooks deliveries of their events, and
every attempt."""
