"""What everything stands on: event kinds, the event schema and file, the ledger of
ground truth, settings, errors, and the platform's process and CPU helpers. Imports
nothing of sensorbench above it.
"""
