"""Use cases: plain functions that take a session and do one thing in its transaction."""
