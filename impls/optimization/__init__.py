"""Baseline optimizers of the optimization suite, one module per family."""
