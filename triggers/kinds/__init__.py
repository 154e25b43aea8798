"""Trigger kinds: one module per persisted kind string."""
