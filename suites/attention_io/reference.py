"""The float64 reference for softmax attention and the I/O lower bound of exact attention."""

from __future__ import annotations

import math

import numpy as np


def attention_reference(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    causal: bool,
    scale: float,
    query_positions: np.ndarray | None = None,
) -> np.ndarray:
    """Return softmax(scale * q k^T) v in float64, with the causal mask when `causal`.

    q: (..., R, d), k and v: (..., N, d). `query_positions` (R,) gives each query row's position
    in the sequence, 0 to R - 1 by default; pass it when q contains a subset of the rows. The causal
    mask hides key j from the query at position i when j > i, so every row keeps at least key 0
    and the softmax is always defined.
    """
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    scores = scale * (q @ np.swapaxes(k, -1, -2))
    if causal:
        n_q, n_k = scores.shape[-2:]
        positions = np.arange(n_q) if query_positions is None else np.asarray(query_positions)
        hidden = np.arange(n_k)[None, :] > positions[:, None]
        scores = np.where(hidden, -np.inf, scores)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v


def io_regime(d: int, capacity: int) -> str:
    """Return "large-M" when M >= d^2 and "small-M" otherwise."""
    return "large-M" if capacity >= d * d else "small-M"


def io_lower_bound(n: int, d: int, capacity: int) -> float:
    """Return the reference I/O figure of exact attention, in words.

    Saha and Ye (ICML 2024) prove Theta(N^2 d^2 / M) words for M >= d^2 and
    Theta(N^2 d / sqrt(M)) for M < d^2. Every program also reads Q, K, V and writes O once, so
    the figure used here is the larger of the regime term and 4 N d. The two agree up to a
    constant factor, and the compulsory term only wins when M is close to N d.
    """
    if capacity >= d * d:
        regime_term = n * n * d * d / capacity
    else:
        regime_term = n * n * d / math.sqrt(capacity)
    return max(regime_term, 4.0 * n * d)
