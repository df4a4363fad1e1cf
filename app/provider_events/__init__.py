"""Provider webhooks taken in: verified events stored, deduplicated and queued in one step."""
