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


#: Small pruning instances: dense models train in about a second and cells take a few seconds.
SMALL_MLP = {"hidden": 32, "layers": 2, "epochs": 8, "ft_steps": 20}
SMALL_CNN = {"channels": 8, "epochs": 6, "ft_steps": 20}


@pytest.fixture(scope="session")
def cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pruning-cache")


@pytest.fixture(autouse=True)
def private_cache(cache_folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the dense-model cache at a folder shared by this session's tests only."""
    monkeypatch.setenv("THEORYBENCH_CACHE", str(cache_folder))
    return cache_folder


@pytest.fixture
def small_mlp() -> dict:
    return dict(SMALL_MLP)


@pytest.fixture
def small_cnn() -> dict:
    return dict(SMALL_CNN)
