"""Integer scaling of weights, loads and capacities for the CP-SAT model.

CP-SAT solves over integers. Loads and capacities must scale to integers *exactly*
(up to 1e-12 relative), since rounding them would change which matchings are feasible.
Weights may be rounded: the rounding is recorded so that the reported bound stays a
valid upper bound of the true optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MAX_DECIMALS", "WeightScaling", "scale_exactly", "scale_weights"]

#: Largest power of ten tried when looking for an exact integer scaling.
MAX_DECIMALS = 6
_REL_TOL = 1e-12  # float noise of decimal data (0.1 * 10 = 1.0000000000000002)
#: Target magnitude of the largest scaled weight when weights are not decimal.
_WEIGHT_RESOLUTION = 2.0**40


def _decimal_scale(values: np.ndarray) -> float | None:
    """Return the smallest ``10**d`` (``d <= MAX_DECIMALS``) making values integral."""
    for d in range(MAX_DECIMALS + 1):
        scaled = values * 10.0**d
        if np.all(np.abs(scaled - np.round(scaled)) <= _REL_TOL * np.maximum(1.0, np.abs(scaled))):
            return 10.0**d
    return None


def scale_exactly(values: np.ndarray, what: str) -> tuple[float, np.ndarray]:
    """Return ``(scale, integers)`` with ``integers == values * scale`` exactly.

    Raises
    ------
    ValueError
        When no ``10**d`` with ``d <= MAX_DECIMALS`` makes every value an integer.
    """
    scale = _decimal_scale(values)
    if scale is None:
        scaled = values * 10.0**MAX_DECIMALS
        bad = int(np.argmax(np.abs(scaled - np.round(scaled))))
        raise ValueError(
            f"method 'cpsat' needs {what} that become integers when multiplied by "
            f"10**d, d <= {MAX_DECIMALS}; value {values[bad]!r} does not. "
            "Use method='mip', or round the data yourself."
        )
    ints = np.round(values * scale)
    if np.abs(ints).max(initial=0.0) >= 2.0**53:
        raise ValueError(f"{what} are too large to scale to exact integers")
    return scale, ints.astype(np.int64)


@dataclass(frozen=True)
class WeightScaling:
    """Weights as integers ``round(w * scale)`` and the cost of the rounding.

    ``slack`` is the largest amount by which the true weight of any set of edges can
    exceed its scaled weight divided by ``scale``: the sum of the positive rounding
    residues. ``exact`` is True when there is no residue at all.
    """

    scale: float
    integers: np.ndarray
    slack: float

    @property
    def exact(self) -> bool:
        """True when the integers represent the weights without rounding."""
        return self.slack == 0.0


def scale_weights(weights: np.ndarray) -> WeightScaling:
    """Scale weights to int64, exactly when they are decimals, else to 2**40 resolution."""
    largest = float(np.abs(weights).max(initial=0.0))
    total = float(np.abs(weights).sum())
    scale = _decimal_scale(weights)
    if scale is None or total * scale >= 2.0**62:
        if largest == 0.0:
            scale = 1.0
        else:
            scale = 2.0 ** np.floor(np.log2(_WEIGHT_RESOLUTION / largest))
            while total * scale >= 2.0**62:
                scale /= 2.0
    ints = np.round(weights * scale)
    residue = weights - ints / scale
    slack = float(residue[residue > 0].sum())
    return WeightScaling(scale=float(scale), integers=ints.astype(np.int64), slack=slack)
