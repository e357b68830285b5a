"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite store in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def postgres_url() -> str:
    """The URL of the PostgreSQL test database that .ci/run starts, or a skip when there is none."""
    url = os.environ.get("THEORYBENCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("THEORYBENCH_TEST_POSTGRES_URL is not set; .ci/run starts PostgreSQL and sets it")
    return url
