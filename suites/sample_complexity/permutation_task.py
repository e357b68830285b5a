"""Permutation learning: the ensemble size needed to learn a bit permutation from k examples."""

from __future__ import annotations

import itertools
from typing import Any, Mapping

import numpy as np

from theorybench.errors import InvalidOutput
from theorybench.suites.sample_complexity.base import SampleComplexityTask, TrialOutcome
from theorybench.suites.sample_complexity.contract import Ensemble, EnsembleProblem


def nonzero_binary_inputs(bits: int) -> np.ndarray:
    """Return the 2^bits - 1 nonzero vectors of {0, 1}^bits, shape (2^bits - 1, bits)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=bits))[1:])


class PermutationTask(SampleComplexityTask):
    """Learn y = x permuted (y[pi(i)] = x[i]) from the k basis vectors; test on every nonzero input."""

    name = "permutation"
    summary = (
        "Ensemble: the training set is the k basis vectors e_i with outputs e_pi(i) for a hidden permutation "
        "pi. The learner returns an Ensemble of at most n members (n is the resource) and a rounding rule. "
        "Success: the rounded mean output equals the permuted input on all 2^k - 1 nonzero inputs. Info: k."
    )
    bound = "n* = O(k^2) ensemble members for exact learning on every input (O(k log k) for one input)"
    tiers = {
        "quick": [{"k": 5}],
        "standard": [{"k": 6}, {"k": 8}],
        "large": [{"k": 10}, {"k": 12}],
    }

    def bound_value(self, params: Mapping[str, Any]) -> float:
        return float(params["k"] ** 2)

    def make_instance(self, params, rng):
        bits = params["k"]
        permutation = rng.permutation(bits)
        inputs = nonzero_binary_inputs(bits)
        outputs = np.zeros_like(inputs)
        outputs[:, permutation] = inputs
        return {"permutation": permutation, "inputs": inputs, "outputs": outputs}

    def search_range(self, params):
        return 1, 8 * params["k"] ** 2, params["k"]

    def make_problem(self, instance, params, n, data_rng, learner_seed):
        bits = params["k"]
        basis = np.eye(bits)
        targets = np.zeros((bits, bits))
        targets[:, instance["permutation"]] = basis
        return EnsembleProblem(self.name, {"k": bits}, basis, targets, budget=n, seed=learner_seed)

    def evaluate(self, instance, params, problem, estimate):
        if not isinstance(estimate, Ensemble):
            raise InvalidOutput(f"expected an Ensemble, got {type(estimate).__name__}")
        # NOTE: the harness counts the members it is given. It cannot tell whether one member
        # is itself an average of several networks.
        members = list(estimate.members)
        if not 1 <= len(members) <= problem.budget:
            raise InvalidOutput(f"the ensemble has {len(members)} members; the budget allows 1 to {problem.budget}")
        inputs = instance["inputs"]
        total = np.zeros_like(inputs)
        for index, member in enumerate(members):
            output = np.asarray(member(inputs.copy()), dtype=float)
            if output.shape != inputs.shape or not np.all(np.isfinite(output)):
                raise InvalidOutput(f"member {index} returned shape {output.shape} or non-finite values; expected {inputs.shape}")
            total += output
        bits = np.asarray(estimate.rounding(inputs.copy(), total / len(members)))
        if bits.shape != inputs.shape or not np.all((bits == 0) | (bits == 1)):
            raise InvalidOutput(f"the rounding must return {inputs.shape} bits in {{0, 1}}, got shape {bits.shape}")
        wrong = np.any(bits != instance["outputs"], axis=1)
        error = float(np.mean(wrong))
        return TrialOutcome(error, not wrong.any())
