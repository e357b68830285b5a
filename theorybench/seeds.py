"""Seed derivation: every random draw of a cell comes from a hash of what identifies it.

The seed of a cell is a hash of (suite, task, parameters, trial index, salt, stream). The public
salt is fixed, so anyone reproduces the published instances. An official run sets a private salt
(`--salt` or `THEORYBENCH_SALT`), so that no implementation can be tuned to the instances.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Mapping

PUBLIC_SALT = "theorybench-public-v1"
SALT_ENVIRONMENT_VARIABLE = "THEORYBENCH_SALT"


def resolve_salt(salt: str | None) -> str:
    """Return the salt to use: the argument, else the environment variable, else the public salt."""
    if salt:
        return salt
    return os.environ.get(SALT_ENVIRONMENT_VARIABLE) or PUBLIC_SALT


def salt_digest(salt: str) -> str:
    """Return a short digest that identifies a salt in the store without revealing it."""
    if salt == PUBLIC_SALT:
        return "public"
    return "private:" + hashlib.sha256(salt.encode()).hexdigest()[:12]


def derive_seed(
    suite: str,
    task: str,
    params: Mapping[str, Any],
    trial: int,
    salt: str,
    stream: str = "",
) -> int:
    """Return a 63-bit seed for one random stream of one trial of one task instance.

    The parameters are serialized with sorted keys, so dict order never changes the seed.
    """
    payload = json.dumps([suite, task, dict(params), int(trial), salt, stream], sort_keys=True, default=str)
    digest = hashlib.blake2b(payload.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
