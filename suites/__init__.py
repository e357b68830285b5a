"""Suites, one package each; discovered by the registry."""
