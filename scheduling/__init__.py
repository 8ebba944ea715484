"""The applications of groupmatch, each a thin layer that builds matching instances.

- :mod:`scheduling.rides`: ride-sharing dispatch batches (vehicles, riders, groups).
- :mod:`scheduling.queue`: QLM request groups placed on GPU instances.
- :mod:`scheduling.rollout`: Seer-style rounds placing GRPO groups' next chunks.
- :mod:`scheduling.traces`: Azure LLM trace loader and calibrated generators.
- :mod:`scheduling.roads`: road networks (the Manhattan data or a generated grid city),
  travel times by Dijkstra from the needed sources, nearest nodes.
- :mod:`scheduling.trips`: NYC trip-sample loaders (columns detected, zones placed through
  their centroids, bad rows named or counted), snapping to a network, time compression.
- :mod:`scheduling.pooling`: ride-pooling groups on a road network: exact best routes
  under wait and detour limits, feasible groups level by level, vehicle-group edges.
- :mod:`scheduling.sim`: the discrete-event core the application simulators share
  (clock, event heap with deterministic ties, periodic ticks, metrics).
- :mod:`scheduling.dispatch`: the ride-pooling :class:`~scheduling.dispatch.Dispatcher`
  (requests in, vehicle assignments out, per window: exact, greedy or ranking).
- :mod:`scheduling.ride_sim`: the dispatch simulator (independent checks of every
  assignment, metrics), the embedded city's demand generator and Manhattan + NYC trips.
"""
