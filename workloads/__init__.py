"""Workloads: the synthetic ones, whose every operation is recorded as ground truth, and
the application recipes, real programs whose operations the harness counts in the kernel.

Workloads know nothing of backends: they only write the ledger (``bench.core.ledger``).
"""

from workloads.base import RECIPES, SYNTHETIC, WORKLOADS, Workload, get_workload

__all__ = ["RECIPES", "SYNTHETIC", "WORKLOADS", "Workload", "get_workload"]
