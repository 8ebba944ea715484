"""Integer scaling of weights, loads and capacities for the CP-SAT model.

CP-SAT solves over integers. A float is read as the decimal it prints as (its shortest
``repr``, the way decimal data such as ``0.1`` is typed), and a set of values scales
by the smallest ``10**d`` (``d <= MAX_DECIMALS``) that makes every such decimal an
integer. Loads and capacities must scale *exactly*, since rounding them would change
which matchings are feasible; otherwise they are refused. Weights may be rounded: the
rounding is recorded so that the reported bound stays a valid upper bound of the true
optimum.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

__all__ = [
    "CPSAT_SUM_LIMIT",
    "MAX_DECIMALS",
    "DecimalScaling",
    "WeightScaling",
    "decimal_integers",
    "decimal_weight_scaling",
    "scale_exactly",
    "scale_weights",
]

#: Largest power of ten tried when looking for an exact integer scaling.
MAX_DECIMALS = 6
#: Scaled integers stay below this, so that float64 holds them exactly too.
_INT_LIMIT = 2**53
#: Sums of scaled integers in one CP-SAT constraint or objective stay below this, far
#: from int64 overflow.
CPSAT_SUM_LIMIT = 2.0**62
#: Values below this magnitude are decided in float arithmetic: then ``v * 10**d``
#: stays below 2**50 and the float test of ``_small_integers`` is exact.
_FAST_RANGE = 2.0**50 / 10**MAX_DECIMALS
#: Target magnitude of the largest scaled weight when weights are not decimal.
_WEIGHT_RESOLUTION = 2.0**40
_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class DecimalScaling:
    """The smallest common ``10**digits`` turning the values' decimals into integers.

    ``integers`` holds ``repr(v) * 10**digits`` exactly where ``bad`` is False; ``bad``
    marks the values that no ``10**d`` (``d <= MAX_DECIMALS``) makes an integer, or
    whose integer reaches ``2**53`` at ``10**digits``.
    """

    digits: int
    integers: np.ndarray
    bad: np.ndarray

    @property
    def scale(self) -> float:
        """The power of ten ``10**digits``."""
        return 10.0**self.digits


def _repr_places(value: float) -> tuple[int, int]:
    """Decimal places of ``value``'s shortest ``repr`` and the integer they make it."""
    decimal = Decimal(repr(value))
    places = max(0, -int(decimal.as_tuple().exponent))
    return places, int(decimal.scaleb(places))


def _large_places(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal places (-1: none fits) and integers of values beyond ``_FAST_RANGE``.

    Whole numbers below ``2**53`` are their own decimal; the rare large values with a
    fractional part read their ``repr``.
    """
    places = np.full(values.size, -1, dtype=np.int64)
    ints = np.zeros(values.size, dtype=np.int64)
    fits = np.abs(values) < _INT_LIMIT  # False for NaN and inf
    whole = fits & (values == np.round(values))
    places[whole], ints[whole] = 0, values[whole]
    for i in np.flatnonzero(fits & ~whole).tolist():
        d, n = _repr_places(float(values[i]))
        if d <= MAX_DECIMALS and abs(n) < _INT_LIMIT:
            places[i], ints[i] = d, n
    return places, ints


def _small_integers(values: np.ndarray, first: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Smallest ``d >= first`` scaling values below ``_FAST_RANGE`` to integers.

    With ``n = rint(v * 10**d)``, ``|n| < 2**51``, the quotient ``n / 10**d`` (one
    correctly rounded division) equals ``v`` exactly when the decimal ``n * 10**-d``
    reads back as ``v``, that is, when the shortest ``repr`` of ``v`` has at most ``d``
    decimal places and is ``n * 10**-d``. Returns ``d``, the integers and the values
    failing at ``d`` (``d = MAX_DECIMALS`` when some fail at every ``d``).
    """
    for d in range(first, MAX_DECIMALS + 1):
        power = 10.0**d
        n = np.rint(values * power)
        ok = n / power == values
        if ok.all():
            break
    return d, n.astype(np.int64), ~ok


def decimal_integers(values: np.ndarray) -> DecimalScaling:
    """Scale the decimals that ``values`` print as by the smallest common power of ten.

    Vectorised: values below ``_FAST_RANGE`` (about 1.1e9) and large whole numbers are
    decided in float arithmetic, exactly.

    Examples
    --------
    >>> import numpy as np
    >>> s = decimal_integers(np.array([0.1, 3.0, 5e11 + 0.4]))
    >>> s.digits, s.integers.tolist(), s.bad.tolist()
    (1, [1, 30, 5000000000004], [False, False, False])
    >>> decimal_integers(np.array([0.5, 1 / 3])).bad.tolist()
    [False, True]
    """
    values = np.asarray(values, dtype=np.float64)
    small = np.abs(values) < _FAST_RANGE
    places, large_ints = _large_places(values[~small])
    first = int(places.max(initial=0))
    d, small_ints, small_bad = _small_integers(values[small], first)
    factor = 10 ** np.maximum(d - places, 0)
    fits = (places >= 0) & (np.abs(large_ints) < _INT_LIMIT // factor)
    ints = np.zeros(values.size, dtype=np.int64)
    bad = np.zeros(values.size, dtype=bool)
    ints[small], bad[small] = small_ints, small_bad
    ints[~small], bad[~small] = np.where(fits, large_ints * factor, 0), ~fits
    return DecimalScaling(digits=d, integers=ints, bad=bad)


def _describe(values: Mapping[str, np.ndarray], flat_index: int) -> str:
    """``name[i] = value`` for a position in the concatenation of ``values``."""
    for name, array in values.items():
        if flat_index < array.size:
            return f"{name}[{flat_index}] = {array[flat_index].item()!r}"
        flat_index -= array.size
    raise IndexError(flat_index)


def scale_exactly(values: Mapping[str, np.ndarray], what: str) -> tuple[float, list[np.ndarray]]:
    """Return ``(scale, integers)`` with every ``integers[k] == repr(values[k]) * scale``.

    Parameters
    ----------
    values : mapping of str to ndarray
        Named arrays (``{"edge_load": ..., "capacity": ...}``) scaled by one common
        ``scale = 10**d``; the names appear in errors.
    what : str
        What the values are, for errors ("loads and capacities").

    Returns
    -------
    scale : float
        ``10**d`` for the smallest ``d <= MAX_DECIMALS`` making every value an integer.
    integers : list of ndarray of int64
        The scaled values, one array per entry of ``values``, each below ``2**53``.

    Raises
    ------
    ValueError
        Naming the first value that no ``10**d`` makes an integer, or that becomes an
        integer of ``2**53`` or more.
    """
    flat = np.concatenate([np.asarray(v, dtype=np.float64) for v in values.values()])
    scaling = decimal_integers(flat)
    if scaling.bad.any():
        bad = int(np.flatnonzero(scaling.bad)[0])
        alone = decimal_integers(flat[bad : bad + 1])
        why = "" if alone.bad[0] else f" at the d = {scaling.digits} that other values need"
        raise ValueError(
            f"method 'cpsat' needs {what} that one power of ten 10**d, d <= "
            f"{MAX_DECIMALS}, turns into integers below 2**53; {_describe(values, bad)} "
            f"does not{why}. Use method='mip', or round the data yourself."
        )
    splits = np.cumsum([np.size(v) for v in values.values()])[:-1]
    return scaling.scale, np.split(scaling.integers, splits)


def _upper_float(value: Fraction) -> float:
    """Return the smallest float that is at least ``value``."""
    out = float(value)
    return math.nextafter(out, math.inf) if Fraction(out) < value else out


def _sum_upper(values: np.ndarray) -> float:
    """Return a float at least the exact sum of the non-negative ``values``."""
    total = float(values.sum())
    if total == 0.0:
        return 0.0
    # a float sum of n terms loses at most (n - 1) * eps / 2 of the exact total
    return math.nextafter(total * (1.0 + values.size * _EPS), math.inf)


@dataclass(frozen=True)
class WeightScaling:
    """Weights as integers ``round(w * scale)`` and the cost of the rounding.

    ``slack`` bounds the amount by which the true weight of any set of edges can exceed
    its scaled weight divided by ``scale``: the sum of the positive rounding residues,
    rounded up, or for decimal weights the half-ulps by which the stored floats may
    exceed their decimals. ``exact`` is True when there is no residue at all.
    """

    scale: float
    integers: np.ndarray
    slack: float

    @property
    def exact(self) -> bool:
        """True when the integers represent the weights without rounding."""
        return self.slack == 0.0

    def upper_bound(self, objective_bound: Fraction) -> float:
        """Bound on the true weights from a bound on the scaled ones, rounded up.

        Examples
        --------
        >>> from fractions import Fraction
        >>> import numpy as np
        >>> WeightScaling(10.0, np.array([1, 2]), 0.0).upper_bound(Fraction(3))
        0.30000000000000004
        """
        return _upper_float(
            Fraction(objective_bound) / Fraction(self.scale) + Fraction(self.slack)
        )


def decimal_weight_scaling(weights: np.ndarray) -> WeightScaling | None:
    """Exact scaling of decimal weights, or None when they are not all decimals."""
    scaling = decimal_integers(weights)
    ints = scaling.integers
    if scaling.bad.any() or np.abs(ints).sum(dtype=np.float64) >= CPSAT_SUM_LIMIT:
        return None
    # the decimal n / 10**d is the float itself exactly when 5**d divides n; otherwise
    # the float may exceed it by up to half an ulp
    inexact = ints % 5**scaling.digits != 0
    slack = _sum_upper(np.spacing(np.abs(weights[inexact])) / 2)
    return WeightScaling(scale=scaling.scale, integers=ints, slack=slack)


def _binary_weights(weights: np.ndarray) -> WeightScaling:
    """Weights rounded at ``2**-40`` of the largest (a power-of-two scale)."""
    largest = float(np.abs(weights).max(initial=0.0))
    total = float(np.abs(weights).sum())
    scale = 1.0
    if largest > 0.0:
        # largest = m * 2**k with 0.5 <= m < 1; the exponent is capped so that the scale
        # stays finite for subnormal weights (they then round to zero and go to slack)
        exponent = min(math.frexp(_WEIGHT_RESOLUTION)[1] - math.frexp(largest)[1], 1000)
        scale = math.ldexp(1.0, exponent)
        while total * scale >= CPSAT_SUM_LIMIT:
            scale /= 2.0
    ints = np.round(weights * scale)
    residue = weights - ints / scale  # exact: the scale is a power of two
    return WeightScaling(
        scale=float(scale),
        integers=ints.astype(np.int64),
        slack=_sum_upper(residue[residue > 0]),
    )


def scale_weights(weights: np.ndarray) -> WeightScaling:
    """Scale weights to int64, exactly when they are decimals, else to 2**40 resolution.

    Examples
    --------
    >>> import numpy as np
    >>> s = scale_weights(np.array([1e12 + 0.1, 1e12 + 0.4]))
    >>> s.scale, s.integers.tolist()
    (10.0, [10000000000001, 10000000000004])
    """
    weights = np.asarray(weights, dtype=np.float64)
    decimal = decimal_weight_scaling(weights)
    return decimal if decimal is not None else _binary_weights(weights)
