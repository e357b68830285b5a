"""Seeded generators and loaders of data that ships offline."""
