"""Baseline pruners of the pruning suite: random, magnitude (layer-wise, global), lottery-ticket
rewinding, PQ-index adaptive pruning, second-order (OBS with an empirical Fisher) and SNIP."""
