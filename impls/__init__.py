"""Competing implementations, one folder per suite, one module each."""
