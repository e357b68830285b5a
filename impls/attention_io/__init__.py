"""Baseline attention implementations: I/O programs for the two-level memory model and torch functions."""
