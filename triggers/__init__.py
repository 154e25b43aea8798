"""Triggers: outside events (payments, opens, clicks, webhooks, field changes) that move deals."""
