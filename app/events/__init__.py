"""Events: what merchants are told when a payment or refund reaches a final state."""
