"""Synthetic workloads whose every operation is recorded as ground truth.

Workloads know nothing of backends: they only write the ledger (``bench.core.ledger``).
"""

from workloads.base import WORKLOADS, Workload, get_workload

__all__ = ["WORKLOADS", "Workload", "get_workload"]
