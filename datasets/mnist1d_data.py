"""MNIST-1D generated locally with the `mnist1d` package, split from a seed.

`mnist1d.data.make_dataset` builds the set from ten 1-D digit templates by random padding,
translation, shear, scaling and noise; it downloads nothing. Its `get_dataset` helper may
download a pickle, so it is never called here. Generation runs with every socket connection
blocked: should a future version of the package reach for the network, generation fails with a
clear error instead of hanging or depending on a host.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import socket
from typing import Iterator

import numpy as np

from theorybench.datasets.digits import Splits, stratified_splits

logger = logging.getLogger(__name__)

#: The package's published set uses generator seed 42 and 5,000 samples of length 40.
DEFAULT_GENERATOR_SEED = 42
DEFAULT_NUM_SAMPLES = 5000


class NetworkAccessError(RuntimeError):
    """Raised when data generation tries to open a network connection."""


@contextlib.contextmanager
def _network_blocked() -> Iterator[None]:
    """Make every socket connection in this process raise NetworkAccessError while active."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise NetworkAccessError(
            "mnist1d tried to open a network connection while generating MNIST-1D; this suite "
            "generates the data offline only. Check the installed mnist1d version "
            "(make_dataset must not download)."
        )

    saved_connect = socket.socket.connect
    saved_connect_ex = socket.socket.connect_ex
    saved_create_connection = socket.create_connection
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect = saved_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = saved_connect_ex  # type: ignore[method-assign]
        socket.create_connection = saved_create_connection  # type: ignore[assignment]


@functools.lru_cache(maxsize=4)
def generate_mnist1d(
    generator_seed: int = DEFAULT_GENERATOR_SEED, num_samples: int = DEFAULT_NUM_SAMPLES
) -> tuple[np.ndarray, np.ndarray]:
    """Return MNIST-1D features (float32, shape (num_samples, 40)) and labels (int64).

    The package seeds numpy's global generator; its state is saved and restored around the
    call, so no other draw in the process is disturbed. The result is cached per process.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as error:
        raise ImportError("the mnist1d package is missing; install it with `pip install mnist1d`") from error

    args = get_dataset_args()
    args.seed = int(generator_seed)
    args.num_samples = int(num_samples)
    saved_state = np.random.get_state()
    try:
        with _network_blocked():
            data = make_dataset(args)
    finally:
        np.random.set_state(saved_state)
    x = np.concatenate([data["x"], data["x_test"]]).astype(np.float32)
    y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
    logger.debug("generated MNIST-1D: %d samples of length %d (generator seed %d)", *x.shape, generator_seed)
    return x, y


def load_mnist1d_splits(
    seed: int,
    generator_seed: int = DEFAULT_GENERATOR_SEED,
    num_samples: int = DEFAULT_NUM_SAMPLES,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Splits:
    """Return MNIST-1D (shape (n, 40)) split into stratified train, validation and test sets from `seed`.

    The package's own train/test split is pooled and redrawn, so every split depends on `seed`.
    """
    x, y = generate_mnist1d(generator_seed, num_samples)
    return stratified_splits(x, y, seed, val_fraction, test_fraction)
