"""Shared builder: every group may go to every resource its load fits."""

from __future__ import annotations

import numpy as np

from matching import Instance

__all__ = ["all_pairs_instance"]


def all_pairs_instance(
    groups: list[np.ndarray],
    weight: np.ndarray,
    load: np.ndarray,
    capacity: np.ndarray,
    n_requests: int,
) -> Instance:
    """Instance with an edge ``(r, g)`` wherever ``weight[r, g] > 0`` and ``load[g]`` fits.

    Parameters
    ----------
    groups : list of int arrays
        Request ids of each group.
    weight : ndarray, shape (n_resources, n_groups)
        Value of serving group ``g`` on resource ``r``.
    load : ndarray, shape (n_groups,)
        Capacity a group uses on any resource.
    capacity : ndarray, shape (n_resources,)
    n_requests : int
    """
    n_res, n_grp = capacity.size, len(groups)
    weight = np.asarray(weight, dtype=np.float64).reshape(n_res, n_grp)
    res = np.repeat(np.arange(n_res), n_grp)
    grp = np.tile(np.arange(n_grp), n_res)
    keep = (weight.ravel() > 0) & (load[grp] <= capacity[res])
    sizes = np.array([g.size for g in groups], dtype=np.int64)
    return Instance.from_arrays(
        group_ptr=np.concatenate([[0], np.cumsum(sizes)]),
        group_members=np.concatenate(groups) if groups else np.zeros(0, np.int64),
        edge_resource=res[keep],
        edge_group=grp[keep],
        edge_weight=weight.ravel()[keep],
        edge_load=load[grp][keep],
        capacity=capacity,
        n_requests=n_requests,
    )
