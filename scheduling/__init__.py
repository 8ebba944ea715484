"""The applications of groupmatch, each a thin layer that builds matching instances.

- :mod:`scheduling.rides`: ride-sharing dispatch batches (vehicles, riders, groups).
- :mod:`scheduling.queue`: QLM request groups placed on GPU instances.
- :mod:`scheduling.rollout`: Seer-style rounds placing GRPO groups' next chunks.
- :mod:`scheduling.traces`: Azure LLM trace loader and calibrated generators.
"""
