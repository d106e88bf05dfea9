"""From ground truth and events to numbers: correlation, per-kind metrics, paired-block
statistics. Pure computation on arrays; imports only ``bench.core``.
"""
