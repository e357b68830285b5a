"""Subcommands of the `theorybench` command line, one module per group."""
