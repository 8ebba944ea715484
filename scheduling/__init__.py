"""The applications of groupmatch, each a thin layer that builds matching instances.

- :mod:`scheduling.rides`: ride-sharing dispatch batches (vehicles, riders, groups).
- :mod:`scheduling.queue`: QLM request groups placed on GPU instances.
- :mod:`scheduling.traces`: Azure LLM trace loader and calibrated generators.
"""
