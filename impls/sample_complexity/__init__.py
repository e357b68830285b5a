"""Baseline learners of the sample_complexity suite, one module per task family."""
