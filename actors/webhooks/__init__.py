"""Outbound webhooks: the actor that delivers events to merchants' endpoints, and its sender."""
