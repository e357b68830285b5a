"""The Walsh-Hadamard transform and seeded sparse Walsh spectra.

Convention: for N = 2^n, the unnormalized transform is (H x)[k] = sum_t x[t] (-1)^<k, t>, with
<k, t> the parity of the bitwise AND of k and t. H H = N I, so the signal of a spectrum X is
x = H X and the spectrum of a signal is X = H x / N.
"""

from __future__ import annotations

import numpy as np


def fast_walsh_hadamard(values: np.ndarray) -> np.ndarray:
    """Return the unnormalized Walsh-Hadamard transform along the last axis.

    values: (..., N) with N a power of two. Each of the log2 N butterfly stages is one
    vectorized numpy operation over the whole batch, so the cost is O(N log N) per row with no
    Python loop over elements.
    """
    array = np.asarray(values, dtype=float)
    size = array.shape[-1]
    if size < 1 or size & (size - 1):
        raise ValueError(f"the last axis must have a power-of-two length, got {size}")
    batch_shape = array.shape[:-1]
    work = array.reshape(-1, size)
    half = 1
    while half < size:
        blocks = work.reshape(work.shape[0], size // (2 * half), 2, half)
        upper = blocks[:, :, 0, :]
        lower = blocks[:, :, 1, :]
        work = np.stack((upper + lower, upper - lower), axis=2).reshape(-1, size)
        half *= 2
    return work.reshape(*batch_shape, size)


def parity(a: np.ndarray, b: np.ndarray | int) -> np.ndarray:
    """Return <a, b> mod 2, the parity of the bits of a AND b, elementwise (with broadcasting)."""
    bits = np.bitwise_and(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    return (np.bitwise_count(bits) & 1).astype(np.int64)


def walsh_rows(times: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Return the submatrix H[times][:, frequencies] of +-1 entries (-1)^<t, k>."""
    signs = parity(np.asarray(times)[:, None], np.asarray(frequencies)[None, :])
    return 1.0 - 2.0 * signs


def sparse_walsh_spectrum(
    n_bits: int, sparsity: int, rng: np.random.Generator, magnitude: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a K-sparse spectrum: K distinct frequencies in [0, 2^n_bits), values of random sign.

    Returns (support, values), support sorted, values = +-magnitude.
    """
    size = 2**n_bits
    if not 1 <= sparsity <= size:
        raise ValueError(f"sparsity must lie in [1, {size}], got {sparsity}")
    support = np.sort(rng.choice(size, size=sparsity, replace=False))
    values = magnitude * rng.choice([-1.0, 1.0], size=sparsity)
    return support, values


def walsh_signal(n_bits: int, support: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return the time-domain signal x = H X of the spectrum X with `values` on `support`."""
    spectrum = np.zeros(2**n_bits)
    spectrum[np.asarray(support, dtype=np.int64)] = values
    return fast_walsh_hadamard(spectrum)
