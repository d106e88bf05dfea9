"""Results folders: the store written cell by cell, the read model every consumer
uses (``RunData``), and what is computed from folders: sustainable rates, compare,
merge, calibration summaries.
"""
