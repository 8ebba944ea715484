"""Proven competitive ratios of the online policies, with the inputs they hold on.

A competitive ratio is a theorem about a class of inputs, not a property of a policy
alone: BALANCE's ``1 - 1/e`` needs unit weights, greedy's ``1/(k+1)`` needs unit loads.
This module states each policy's guarantee together with its preconditions, describes
an online input by the properties those preconditions refer to
(:class:`InputProperties`), and says whether a guarantee applies to an input and, if
not, which preconditions fail, so that a ratio is only ever printed next to inputs it
is true for. A policy may have several theorems, one per class of inputs (greedy's
``1/(k+1)`` holds on single-use resources and on reusable resources with one duration
per resource): the registered guarantee carries the others as ``alternatives`` and
speaks, on each input, with the theorem that applies to it (:meth:`Guarantee.variant_for`).

Examples
--------
>>> import matching
>>> from matching.guarantees import InputProperties, guarantee_for
>>> inst = matching.Instance([[0], [1]], [(0, 0, 1.0), (0, 1, 1.0)], capacity=[2])
>>> props = InputProperties.of(inst, reusable=False, arrival_model="adversarial")
>>> greedy = guarantee_for("greedy")
>>> greedy.applies(props), greedy.ratio_for(props)
(True, Fraction(1, 2))
>>> weighted = matching.Instance([[0], [1]], [(0, 0, 0.01), (0, 1, 1.0)], capacity=[2])
>>> guarantee_for("balance").unmet(
...     InputProperties.of(weighted, reusable=False, arrival_model="adversarial"))
['unit weights']
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.arrivals import ARRIVAL_MODELS

if TYPE_CHECKING:
    from matching.arrivals import ArrivalSequence
    from matching.model import Instance

__all__ = [
    "GUARANTEES",
    "Guarantee",
    "InputProperties",
    "Precondition",
    "balance_ratio",
    "greedy_ratio",
    "guarantee_for",
]

Ratio = Fraction | float

# How the actual value must relate to a declared one in InputProperties.holds_on.
_EQUAL, _AT_MOST, _AT_LEAST = "", "<= ", ">= "
_HOLDS = {_EQUAL: operator.eq, _AT_MOST: operator.le, _AT_LEAST: operator.ge}


def _declared(holds: str, kind: type) -> Any:
    return field(default=None, metadata={"holds": holds, "kind": kind})


@dataclass(frozen=True)
class InputProperties:
    """The properties of an online input that competitive-ratio theorems refer to.

    Build the complete description of a realised input with :meth:`of` (or
    :meth:`of_sequence`). A *partial* description, with ``None`` for what is not fixed,
    is what an input family declares about every input it draws; a declared bound on a
    size or a capacity promises that much or better (see :meth:`holds_on`).

    Attributes
    ----------
    unit_weights : bool or None
        Every edge has the same weight: the input is *unweighted*. Ratios do not change
        when all weights are scaled, so equal weights are unit weights after rescaling;
        weights of different values, zeros among positive weights included, are not.
    vertex_weights : bool or None
        All edges at a resource share one weight, the resource's weight. Implied by
        ``unit_weights``.
    unit_loads : bool or None
        Every edge uses exactly one unit of its resource's capacity.
    min_capacity, max_capacity : float or None
        Smallest and largest resource capacity (``inf`` and ``-inf`` with no resources).
        Declared, they are bounds: the actual smallest capacity is at least
        ``min_capacity``, the actual largest at most ``max_capacity``.
    integer_capacities : bool or None
        Every capacity is a whole number. Implied by unit capacities.
    max_group_size : int or None
        ``k``, the size of the largest group (1 with no groups). Declared, an upper bound.
    disjoint_groups : bool or None
        No request lies in two groups, so every request arrives once. Type-based arrival
        models give every arrival fresh requests; adversarial and random order over a
        fixed instance keep its groups, which may share requests.
    reusable : bool or None
        Resources come back after each accepted edge's duration; False for single-use
        resources, whose accepted edges hold their load for ever.
    integer_durations : bool or None
        Every edge has a duration that is a whole number of steps, at least 1 (False when
        the input has no durations).
    durations_match_prior : bool or None
        Every realised edge has the duration its type edge declares in the known prior
        (False without a declared prior or without durations). :meth:`of` cannot tell
        from an instance alone and leaves it ``None``; :meth:`of_sequence` computes it.
    resource_durations : bool or None
        All edges at a resource share one duration ``d_r`` with ``0 < d_r < inf``, the
        resource's duration; different resources may have different durations (False
        when the input has no durations).
    arrival_model : str or None
        One of :data:`matching.arrivals.ARRIVAL_MODELS`.

    Examples
    --------
    >>> import matching
    >>> from matching.guarantees import InputProperties
    >>> inst = matching.Instance([[0, 1], [2]], [(0, 0, 2.0), (1, 1, 2.0)])
    >>> props = InputProperties.of(inst, reusable=False, arrival_model="random-order")
    >>> props.unit_weights, props.unit_capacity, props.max_group_size, props.singleton_groups
    (True, True, 2, False)
    >>> InputProperties(max_group_size=3, unit_loads=True).holds_on(props)
    True
    """

    unit_weights: bool | None = _declared(_EQUAL, bool)
    vertex_weights: bool | None = _declared(_EQUAL, bool)
    unit_loads: bool | None = _declared(_EQUAL, bool)
    min_capacity: float | None = _declared(_AT_LEAST, float)
    max_capacity: float | None = _declared(_AT_MOST, float)
    integer_capacities: bool | None = _declared(_EQUAL, bool)
    max_group_size: int | None = _declared(_AT_MOST, int)
    disjoint_groups: bool | None = _declared(_EQUAL, bool)
    reusable: bool | None = _declared(_EQUAL, bool)
    integer_durations: bool | None = _declared(_EQUAL, bool)
    durations_match_prior: bool | None = _declared(_EQUAL, bool)
    resource_durations: bool | None = _declared(_EQUAL, bool)
    arrival_model: str | None = _declared(_EQUAL, str)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, _checked(f.name, value, f.metadata["kind"]))
        if self.arrival_model is not None and self.arrival_model not in ARRIVAL_MODELS:
            raise ValueError(
                f"arrival_model={self.arrival_model!r} is unknown; choose one of {ARRIVAL_MODELS}"
            )
        if self.max_group_size is not None and self.max_group_size < 1:
            raise ValueError(f"max_group_size must be at least 1, got {self.max_group_size}")
        low, high = self.min_capacity, self.max_capacity
        no_resources = (low, high) == (math.inf, -math.inf)
        if low is not None and high is not None and low > high and not no_resources:
            raise ValueError(f"min_capacity={low} exceeds max_capacity={high}")
        if self.unit_weights:
            self._imply("vertex_weights", "unit_weights=True")
        if self.unit_capacity:
            self._imply("integer_capacities", "unit capacities")

    def _imply(self, name: str, reason: str) -> None:
        if getattr(self, name) is False:
            raise ValueError(f"{reason} implies {name}=True, got {name}=False")
        object.__setattr__(self, name, True)

    # ------------------------------------------------------------ derived facts
    @property
    def unit_capacity(self) -> bool | None:
        """Every resource has capacity exactly 1 (None when the capacities are not fixed)."""
        if self.min_capacity is None or self.max_capacity is None:
            return None
        return self.min_capacity == 1.0 and self.max_capacity == 1.0

    @property
    def singleton_groups(self) -> bool | None:
        """Every group is a single request: bipartite matching (None when ``k`` is not fixed)."""
        return None if self.max_group_size is None else self.max_group_size == 1

    # ------------------------------------------------------------- construction
    @classmethod
    def of(cls, instance: Instance, *, reusable: bool, arrival_model: str) -> InputProperties:
        """Compute every property of a realised instance except ``durations_match_prior``.

        Parameters
        ----------
        instance : matching.Instance
            The realised instance (for an :class:`~matching.arrivals.ArrivalSequence`,
            its ``instance``).
        reusable : bool
            Whether its resources are reusable.
        arrival_model : str
            How its groups arrive, one of :data:`matching.arrivals.ARRIVAL_MODELS`.

        Returns
        -------
        InputProperties

        Examples
        --------
        >>> import matching
        >>> from matching.guarantees import InputProperties
        >>> inst = matching.Instance([[0], [0]], [(0, 0, 1.0, 20), (0, 1, 1.0)], capacity=[20])
        >>> props = InputProperties.of(inst, reusable=False, arrival_model="adversarial")
        >>> props.unit_weights, props.unit_loads, props.disjoint_groups, props.min_capacity
        (True, False, False, 20.0)
        >>> timed = matching.Instance([[0], [1], [2]], [(0, 0, 1.0, 1, 5.0), (0, 1, 1.0, 1, 5.0),
        ...                                             (1, 2, 1.0, 1, 2.0)], capacity=[2, 1])
        >>> props = InputProperties.of(timed, reusable=True, arrival_model="adversarial")
        >>> props.resource_durations, props.integer_durations
        (True, True)
        """
        if not isinstance(reusable, bool | np.bool_):
            raise TypeError(f"reusable must be a bool, got {reusable!r}")
        weight = instance.edge_weight
        capacity = instance.capacity
        requests_seen = np.bincount(instance.group_members, minlength=instance.n_requests)
        return cls(
            unit_weights=_all_equal(weight),
            vertex_weights=_constant_per_resource(instance, weight),
            unit_loads=bool((instance.edge_load == 1.0).all()),
            min_capacity=float(capacity.min(initial=np.inf)),
            max_capacity=float(capacity.max(initial=-np.inf)),
            integer_capacities=bool((capacity == np.round(capacity)).all()),
            max_group_size=int(instance.group_sizes.max(initial=1)),
            disjoint_groups=bool(requests_seen.max(initial=0) <= 1),
            reusable=bool(reusable),
            integer_durations=_whole_steps(instance.edge_duration),
            resource_durations=_one_duration_per_resource(instance),
            arrival_model=arrival_model,
        )

    @classmethod
    def of_sequence(cls, sequence: ArrivalSequence) -> InputProperties:
        """Compute every property of a realised arrival sequence.

        :meth:`of` on the sequence's instance, resource kind and arrival model, plus
        ``durations_match_prior`` from its declared prior.

        Examples
        --------
        >>> import numpy as np
        >>> from matching.guarantees import InputProperties
        >>> from matching.online_families import KADReusable
        >>> seq = KADReusable(n_resources=3, n_types=4, horizon=6)(np.random.default_rng(0))
        >>> props = InputProperties.of_sequence(seq)
        >>> props.reusable, props.integer_durations, props.durations_match_prior
        (True, True, True)
        """
        props = cls.of(
            sequence.instance, reusable=sequence.reusable, arrival_model=sequence.arrival_model
        )
        return dataclasses.replace(props, durations_match_prior=_durations_match_prior(sequence))

    # -------------------------------------------------------------- comparison
    def mismatches(self, actual: InputProperties) -> list[str]:
        """Say which properties declared here (not None) are false of ``actual``.

        A declared flag or arrival model must equal the actual one; a declared
        ``max_group_size`` or ``max_capacity`` must be at least the actual value and a
        declared ``min_capacity`` at most the actual value. An actual value of None
        (unknown) never confirms a declaration.

        Returns
        -------
        list of str
            One line per failed declaration, naming the field; empty when all hold.
        """
        if not isinstance(actual, InputProperties):
            raise TypeError(f"expected InputProperties, got {type(actual).__name__}")
        out = []
        for f in dataclasses.fields(self):
            declared, value = getattr(self, f.name), getattr(actual, f.name)
            if declared is None:
                continue
            holds = f.metadata["holds"]
            if value is None or not _HOLDS[holds](value, declared):
                out.append(f"{f.name}: declared {holds}{declared!r}, the input has {value!r}")
        return out

    def holds_on(self, actual: InputProperties) -> bool:
        """Check that every property declared here is true of ``actual`` (see :meth:`mismatches`).

        Examples
        --------
        >>> from matching.guarantees import InputProperties
        >>> actual = InputProperties(unit_loads=True, max_group_size=2, min_capacity=3.0)
        >>> InputProperties(unit_loads=True, max_group_size=3).holds_on(actual)
        True
        >>> InputProperties(max_group_size=1, min_capacity=4.0).mismatches(actual)
        ['min_capacity: declared >= 4.0, the input has 3.0',
         'max_group_size: declared <= 1, the input has 2']
        """
        return not self.mismatches(actual)


def _checked(name: str, value: Any, kind: type) -> Any:
    """Return ``value`` as ``kind``, or raise a TypeError naming the field."""
    if kind is bool:
        if isinstance(value, bool | np.bool_):
            return bool(value)
    elif kind is int:
        if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
            return int(value)
    elif kind is float:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            if math.isnan(value):
                raise ValueError(f"{name} must not be NaN")
            return float(value)
    elif isinstance(value, kind):
        return value
    raise TypeError(f"{name} must be a {kind.__name__} or None, got {value!r}")


def _all_equal(values: np.ndarray) -> bool:
    return bool(values.size == 0 or (values == values[0]).all())


def _constant_per_resource(instance: Instance, values: np.ndarray) -> bool:
    """Check that all edges at each resource share one value (one per edge in ``values``)."""
    resource = instance.edge_resource
    low = np.full(instance.n_resources, np.inf)
    high = np.full(instance.n_resources, -np.inf)
    np.minimum.at(low, resource, values)
    np.maximum.at(high, resource, values)
    return bool((low[resource] == high[resource]).all())


def _one_duration_per_resource(instance: Instance) -> bool:
    """Check that all edges at each resource share one finite, positive duration."""
    duration = instance.edge_duration
    if duration is None or not (np.isfinite(duration) & (duration > 0)).all():
        return False
    return _constant_per_resource(instance, duration)


def _whole_steps(duration: np.ndarray | None) -> bool:
    if duration is None:
        return False
    return bool(((duration >= 1.0) & (duration == np.round(duration))).all())


def _durations_match_prior(sequence: ArrivalSequence) -> bool:
    realised = sequence.instance.edge_duration
    if sequence.model is None or sequence.type_edge is None or realised is None:
        return False
    declared = sequence.model.types.edge_duration
    return declared is not None and bool(np.array_equal(realised, declared[sequence.type_edge]))


# ----------------------------------------------------------------- preconditions
@dataclass(frozen=True)
class Precondition:
    """One hypothesis of a guarantee.

    Attributes
    ----------
    name : str
        Short name, as :meth:`Guarantee.unmet` reports it (e.g. ``"unit loads"``).
    meaning : str
        What it requires of the input, in full.
    check : callable
        ``check(props)`` is True when ``props`` meet it; False or None (unknown) when not.
    """

    name: str
    meaning: str
    check: Callable[[InputProperties], bool | None] = field(repr=False, compare=False)

    def met(self, props: InputProperties) -> bool:
        """Return True only when ``props`` are known to meet this precondition."""
        return self.check(props) is True


def _arrivals_in(models: tuple[str, ...]) -> Callable[[InputProperties], bool]:
    return lambda p: p.arrival_model in models


def _single_use(p: InputProperties) -> bool | None:
    return None if p.reusable is None else not p.reusable


def _integer_capacities(p: InputProperties) -> bool:
    return bool(p.integer_capacities) and p.min_capacity is not None and p.min_capacity >= 1


UNIT_WEIGHTS = Precondition(
    "unit weights",
    "every edge has the same weight (unweighted; ratios are scale-free, so equal "
    "weights count as unit weights)",
    lambda p: p.unit_weights,
)
VERTEX_WEIGHTS = Precondition(
    "vertex weights",
    "all edges at a resource share one weight, the resource's weight",
    lambda p: p.vertex_weights,
)
UNIT_LOADS = Precondition(
    "unit loads", "every edge uses one unit of its resource's capacity", lambda p: p.unit_loads
)
UNIT_CAPACITY = Precondition(
    "unit capacity", "every resource has capacity 1", lambda p: p.unit_capacity
)
INTEGER_CAPACITIES = Precondition(
    "integer capacities",
    "every capacity is a whole number of at least 1; b is the smallest",
    _integer_capacities,
)
GROUP_SIZE = Precondition(
    "group size bound",
    "the largest group size k is known",
    lambda p: p.max_group_size is not None,
)
SINGLETON_GROUPS = Precondition(
    "singleton groups",
    "every group is a single request (bipartite matching)",
    lambda p: p.singleton_groups,
)
DISJOINT_GROUPS = Precondition(
    "disjoint groups",
    "no request lies in two groups, so every request arrives once",
    lambda p: p.disjoint_groups,
)
SINGLE_USE = Precondition(
    "single-use",
    "resources are single-use: an accepted edge holds its load for ever (a theorem "
    "proven for single-use resources says nothing about reusable ones)",
    _single_use,
)
WHOLE_GROUP_ARRIVALS = Precondition(
    "whole-group arrivals",
    "whole groups arrive one at a time in some order ("
    + ", ".join(ARRIVAL_MODELS)
    + "); the ratio is proven for adversarial order, the worst case, so it holds for "
    "every realised order and in expectation over random ones",
    _arrivals_in(ARRIVAL_MODELS),
)
REUSABLE = Precondition(
    "reusable",
    "resources are reusable: an accepted edge holds its resource for its duration",
    lambda p: p.reusable,
)
INTEGER_DURATIONS = Precondition(
    "integer durations",
    "every duration is a whole number of steps, at least 1",
    lambda p: p.integer_durations,
)
RESOURCE_DURATIONS = Precondition(
    "resource durations",
    "every edge at a resource holds it for the same duration d_r > 0, the resource's "
    "(durations may differ between resources)",
    lambda p: p.resource_durations,
)
DURATIONS_MATCH_PRIOR = Precondition(
    "durations match prior",
    "every realised edge has the duration the known prior declares for it",
    lambda p: p.durations_match_prior,
)
KNOWN_DISTRIBUTIONS = Precondition(
    "known distributions",
    "arrivals are drawn from a declared prior over group types, one step at a time "
    "(known-adversarial, or known-iid as its special case)",
    _arrivals_in(("known-adversarial", "known-iid")),
)
PROVEN_RATIO = Precondition(
    "a proven ratio",
    "a competitive ratio proven for the policy (none is)",
    lambda p: False,
)


# --------------------------------------------------------------------- formulas
def greedy_ratio(k: int) -> Fraction:
    """Greedy's ratio ``1/(k+1)`` for groups of at most ``k`` requests.

    Examples
    --------
    >>> from matching.guarantees import greedy_ratio
    >>> greedy_ratio(1), greedy_ratio(3)
    (Fraction(1, 2), Fraction(1, 4))
    """
    return Fraction(1, _positive_int(k, "k") + 1)


def balance_ratio(b: int) -> Fraction:
    """BALANCE's ratio ``1 - 1/(1 + 1/b)^b = 1 - (b/(b+1))^b`` for capacities of at least ``b``.

    It is 1/2 at ``b = 1`` and increases towards ``1 - 1/e`` as ``b`` grows
    (Kalyanasundaram and Pruhs 2000; Albers and Schubert for unequal capacities, with
    ``b`` the smallest).

    Examples
    --------
    >>> from matching.guarantees import balance_ratio
    >>> balance_ratio(1), balance_ratio(2)
    (Fraction(1, 2), Fraction(5, 9))
    >>> round(float(balance_ratio(50)), 4)
    0.6285
    """
    b = _positive_int(b, "b")
    return 1 - Fraction(b, b + 1) ** b


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def _smallest_capacity(p: InputProperties) -> int:
    assert p.min_capacity is not None  # checked by INTEGER_CAPACITIES
    return math.floor(p.min_capacity)


def _largest_group(p: InputProperties) -> int:
    assert p.max_group_size is not None  # checked by GROUP_SIZE
    return p.max_group_size


_ONE_MINUS_INV_E = 1.0 - math.exp(-1.0)


# -------------------------------------------------------------------- guarantee
@dataclass(frozen=True)
class Guarantee:
    """A policy's proven competitive ratio and the preconditions it needs.

    Attributes
    ----------
    policy : str
        The policy's ``name``.
    formula : str or None
        The ratio as written, e.g. ``"1/(k+1)"``; None when no ratio is proven.
    symbols : str
        What the formula's symbols stand for, e.g. ``"k the largest group size"``.
    ratio : Fraction, float, callable or None
        The ratio: a number, or ``ratio(props)`` for ratios that depend on the input
        (only called on inputs that meet every precondition).
    benchmark : str
        What ALG is compared with: ``"OPT"``, the hindsight optimum of the realised
        input, or ``"LP"``, the benchmark LP of the declared prior, an upper bound on
        the expected optimum (not the per-input LP relaxation of OPT).
    preconditions : tuple of Precondition
        Every hypothesis of the theorem.
    expected : bool
        The bound is on the expected value of a randomised policy.
    parameter : callable or None
        ``parameter(props)`` names the input's value of the formula's parameter.
    notes : str
        Sources and remarks.
    setting : str
        The class of inputs this theorem is about, when its policy has several (e.g.
        ``"reusable resources, one duration per resource"``); empty for the registered one.
    alternatives : tuple of Guarantee
        The policy's theorems on other classes of inputs, each with its own
        preconditions (and a ``setting``). The guarantee applies where it or any of them
        does; :meth:`variant_for` picks the one that speaks for an input.
    """

    policy: str
    formula: str | None
    ratio: Ratio | Callable[[InputProperties], Ratio] | None = field(repr=False)
    symbols: str = ""
    benchmark: str = "OPT"
    preconditions: tuple[Precondition, ...] = ()
    expected: bool = False
    parameter: Callable[[InputProperties], str] | None = field(default=None, repr=False)
    notes: str = ""
    setting: str = ""
    alternatives: tuple[Guarantee, ...] = ()

    def __post_init__(self) -> None:
        if self.benchmark not in ("OPT", "LP"):
            raise ValueError(f"benchmark must be 'OPT' or 'LP', got {self.benchmark!r}")
        if (self.formula is None) != (self.ratio is None):
            raise ValueError("give both a formula and a ratio, or neither")
        object.__setattr__(self, "alternatives", tuple(self.alternatives))
        for other in self.alternatives:
            if not isinstance(other, Guarantee):
                raise TypeError(f"alternatives must be Guarantee objects, got {other!r}")
            if other.policy != self.policy:
                raise ValueError(
                    f"an alternative of {self.policy}'s guarantee is about {other.policy!r}"
                )
            if other.alternatives or not other.setting or other.formula is None:
                raise ValueError(
                    "an alternative needs a formula and a setting, and no alternatives of its own"
                )

    def variant_for(self, props: InputProperties) -> Guarantee:
        """Return the theorem that speaks for inputs with ``props``.

        This guarantee or one of its :attr:`alternatives`: the first (this one first)
        that applies; when none does, the one with the fewest unmet preconditions, the
        earlier on ties.

        Parameters
        ----------
        props : InputProperties
            The input's properties.

        Returns
        -------
        Guarantee
            A theorem without alternatives of its own, or this guarantee.

        Examples
        --------
        >>> from matching.guarantees import InputProperties, guarantee_for
        >>> props = InputProperties(
        ...     unit_weights=True, unit_loads=True, max_group_size=1, reusable=True,
        ...     resource_durations=True, arrival_model="adversarial")
        >>> guarantee_for("greedy").variant_for(props).setting
        'reusable resources, one duration per resource'
        """
        if not isinstance(props, InputProperties):
            raise TypeError(f"expected InputProperties, got {type(props).__name__}")
        return min((self, *self.alternatives), key=lambda g: len(g._own_unmet(props)))

    def _own_unmet(self, props: InputProperties) -> list[str]:
        return [c.name for c in self.preconditions if not c.met(props)]

    def unmet(self, props: InputProperties) -> list[str]:
        """Names of the preconditions ``props`` do not (or are not known to) meet.

        Empty exactly when the guarantee applies. With :attr:`alternatives`, those of
        the theorem :meth:`variant_for` picks.

        Examples
        --------
        >>> from matching.guarantees import InputProperties, guarantee_for
        >>> props = InputProperties(
        ...     unit_weights=True, unit_loads=True, min_capacity=1, max_capacity=1,
        ...     max_group_size=2, disjoint_groups=True, reusable=True)
        >>> guarantee_for("ranking").unmet(props)
        ['singleton groups', 'single-use', 'whole-group arrivals']
        """
        return self.variant_for(props)._own_unmet(props)

    def applies(self, props: InputProperties) -> bool:
        """Return True when ``props`` meet every precondition, so the ratio holds on the input."""
        return not self.unmet(props)

    def ratio_for(self, props: InputProperties) -> Ratio:
        """Return the ratio this guarantee proves on inputs with ``props``.

        Raises
        ------
        ValueError
            If the guarantee does not apply; the message names the unmet preconditions.
        """
        theorem = self.variant_for(props)
        missing = theorem._own_unmet(props)
        if missing:
            raise ValueError(
                f"{self.policy}'s guarantee does not apply: unmet {', '.join(missing)}"
            )
        assert theorem.ratio is not None  # PROVEN_RATIO is unmet otherwise
        return theorem.ratio(props) if callable(theorem.ratio) else theorem.ratio

    def describe(self, props: InputProperties | None = None) -> str:
        """State the guarantee; with ``props``, its value on that input or why it fails.

        Examples
        --------
        >>> from matching.guarantees import InputProperties, guarantee_for
        >>> greedy = guarantee_for("greedy")
        >>> print(greedy.describe())
        greedy: ALG/OPT >= 1/(k+1), k the largest group size, on every input with
          - unit weights: every edge has the same weight ...
          - unit loads: every edge uses one unit of its resource's capacity
          - group size bound: the largest group size k is known
          - single-use: ...
          - whole-group arrivals: ...
          notes: ...
        >>> props = InputProperties(
        ...     unit_weights=True, unit_loads=True, max_group_size=2, reusable=False,
        ...     arrival_model="adversarial")
        >>> greedy.describe(props)
        'ALG/OPT >= 1/3 = 0.333 (groups of <= 2)'
        >>> greedy.describe(InputProperties(unit_loads=False))
        'no guarantee: 1/(k+1) needs unit weights, unit loads, group size bound, single-use,
         whole-group arrivals (or, for reusable resources, one duration per resource: unit
         weights, unit loads, group size bound, reusable, resource durations, whole-group
         arrivals)'
        >>> import dataclasses
        >>> greedy.describe(dataclasses.replace(props, reusable=True, resource_durations=True))
        'ALG/OPT >= 1/3 = 0.333 (groups of <= 2; reusable resources, one duration per resource)'
        """
        if props is None:
            return "\n".join(g._statement() for g in (self, *self.alternatives))
        theorem = self.variant_for(props)
        missing = theorem._own_unmet(props)
        if self.formula is None:
            return "no guarantee: no competitive ratio is proven"
        if missing:
            others = "".join(
                f" (or{f', for {g.setting}' if g.setting else ''}: "
                f"{', '.join(g._own_unmet(props))})"
                for g in (self, *self.alternatives)
                if g is not theorem
            )
            return f"no guarantee: {theorem.formula} needs {', '.join(missing)}{others}"
        text = f"{theorem._lhs()} >= {theorem._value_text(self.ratio_for(props))}"
        about = [theorem.parameter(props)] if theorem.parameter is not None else []
        about += [theorem.setting] if theorem.setting else []
        return f"{text} ({'; '.join(about)})" if about else text

    def _lhs(self) -> str:
        return f"{'E[ALG]' if self.expected else 'ALG'}/{self.benchmark}"

    def _value_text(self, value: Ratio) -> str:
        if isinstance(value, Fraction) and value.denominator <= 1000:
            return f"{value} = {float(value):.3f}"
        if self.parameter is None:
            return f"{self.formula} = {float(value):.3f}"
        return f"{float(value):.3f}"

    def _statement(self) -> str:
        if self.formula is None:
            head = f"{self.policy}: no proven competitive ratio"
        else:
            where = f", {self.symbols}," if self.symbols else ""
            name = f"{self.policy} ({self.setting})" if self.setting else self.policy
            head = f"{name}: {self._lhs()} >= {self.formula}{where} on every input with"
        lines = [head]
        lines += [
            f"  - {c.name}: {c.meaning}" for c in self.preconditions if c is not PROVEN_RATIO
        ]
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


_SINGLE_USE_ARRIVALS = (SINGLE_USE, WHOLE_GROUP_ARRIVALS)


def _greedy(**theorem: Any) -> Guarantee:
    """Greedy's ``1/(k+1)``: the formula and its parameter, with one theorem's hypotheses."""
    return Guarantee(
        policy="greedy",
        formula="1/(k+1)",
        symbols="k the largest group size",
        ratio=lambda p: greedy_ratio(_largest_group(p)),
        parameter=lambda p: f"groups of <= {p.max_group_size}",
        **theorem,
    )


_GREEDY_REUSABLE = _greedy(
    setting="reusable resources, one duration per resource",
    preconditions=(
        UNIT_WEIGHTS,
        UNIT_LOADS,
        GROUP_SIZE,
        REUSABLE,
        RESOURCE_DURATIONS,
        WHOLE_GROUP_ARRIVALS,
    ),
    notes=(
        "block-charging proof in docs/proofs/greedy_reusable.md; 1/2 for single requests. "
        "The arrival order and times are adversarial; each group is served at its arrival "
        "or never, against the hindsight optimum that serves at arrival too "
        "(matching.hindsight). Capacities may be any: with unit loads a capacity c holds "
        "floor(c) units at once. Groups may share requests. With two durations at one "
        "resource there is no constant ratio (one long edge blocks many short ones), and "
        "against a benchmark that may delay service none either."
    ),
)

#: The guarantee of every online policy, keyed by the policy's ``name``.
GUARANTEES: dict[str, Guarantee] = {
    g.policy: g
    for g in (
        _greedy(
            preconditions=(UNIT_WEIGHTS, UNIT_LOADS, GROUP_SIZE, *_SINGLE_USE_ARRIVALS),
            alternatives=(_GREEDY_REUSABLE,),
            notes=(
                "charging proof in docs/proofs/greedy.md. Capacities may be any: with unit "
                "loads a resource that rejects an edge holds floor(c) greedy edges, at "
                "least as many as any matching puts there, and each absorbs one charge "
                "per unit of capacity. Groups may share requests. With edge weights "
                "online greedy has no constant ratio, and with loads one heavy edge can "
                "block every light one."
            ),
        ),
        Guarantee(
            policy="ranking",
            formula="1 - 1/e",
            ratio=_ONE_MINUS_INV_E,
            expected=True,
            preconditions=(
                UNIT_WEIGHTS,
                UNIT_LOADS,
                SINGLETON_GROUPS,
                DISJOINT_GROUPS,
                *_SINGLE_USE_ARRIVALS,
            ),
            notes=(
                "Karp, Vazirani and Vazirani (STOC 1990) for capacity 1, with the complete "
                "proof of Devanur, Jain and Kleinberg (SODA 2013); Albers and Schubert "
                "(Algorithmica 2024) for any integer capacities with one random order of "
                "the resources, and with unit loads a capacity c acts as floor(c). "
                "Requests shared between groups break it: an early copy of a request can "
                "take the resource another request needs."
            ),
        ),
        Guarantee(
            policy="ranking-vw",
            formula="1 - 1/e",
            ratio=_ONE_MINUS_INV_E,
            expected=True,
            preconditions=(
                VERTEX_WEIGHTS,
                UNIT_LOADS,
                UNIT_CAPACITY,
                SINGLETON_GROUPS,
                DISJOINT_GROUPS,
                *_SINGLE_USE_ARRIVALS,
            ),
            notes=(
                "perturbed greedy, Aggarwal, Goel, Karande and Mehta (SODA 2011): "
                "vertex-weighted bipartite matching with unit capacities."
            ),
        ),
        Guarantee(
            policy="balance",
            formula="1 - (b/(b+1))^b",
            symbols="b the smallest capacity",
            ratio=lambda p: balance_ratio(_smallest_capacity(p)),
            preconditions=(
                UNIT_WEIGHTS,
                UNIT_LOADS,
                INTEGER_CAPACITIES,
                SINGLETON_GROUPS,
                DISJOINT_GROUPS,
                *_SINGLE_USE_ARRIVALS,
            ),
            parameter=lambda p: f"smallest capacity b = {_smallest_capacity(p)}",
            notes=(
                "1 - 1/(1 + 1/b)^b: Kalyanasundaram and Pruhs (TCS 2000) for equal "
                "capacities b; Albers and Schubert (Algorithmica 2024) for unequal ones, "
                "where choosing the least used fraction is their RelativeBalance. It is "
                "1/2 at b = 1 and tends to 1 - 1/e as b grows. With edge weights no "
                "constant ratio holds: light edges that arrive first fill the capacity."
            ),
        ),
        Guarantee(
            policy="lp-attenuate",
            formula="1/2",
            ratio=Fraction(1, 2),
            benchmark="LP",
            expected=True,
            preconditions=(
                UNIT_LOADS,
                UNIT_CAPACITY,
                DISJOINT_GROUPS,
                REUSABLE,
                INTEGER_DURATIONS,
                DURATIONS_MATCH_PRIOR,
                KNOWN_DISTRIBUTIONS,
            ),
            notes=(
                "any weights and group sizes; proof in docs/proofs/lp_attenuate.md, after "
                "Dickerson, Sankararaman, Srinivasan and Xu (AAAI 2018). LP is the "
                "benchmark LP of the declared prior (matching.attenuation.kad_benchmark_lp), "
                "which upper-bounds the expected optimum, so E[ALG] >= E[OPT]/2 as well: "
                "expectations over the arrivals, so one trial, or the mean of per-trial "
                "ALG/OPT, may fall below 1/2. The ratio is gamma for gamma < 1/2; the "
                "prior's own edges must meet the same conditions, which the policy checks "
                "when it starts."
            ),
        ),
        Guarantee(
            policy="batched",
            formula=None,
            ratio=None,
            preconditions=(PROVEN_RATIO,),
            notes=(
                "each window is solved exactly, so one window spanning every arrival is "
                "optimal; for shorter windows no ratio is proven."
            ),
        ),
    )
}


def guarantee_for(policy_name: str, props: InputProperties | None = None) -> Guarantee:
    """Return the guarantee recorded for the policy named ``policy_name``.

    Parameters
    ----------
    policy_name : str
        The policy's ``name``.
    props : InputProperties, optional
        With them, the theorem that speaks for such inputs (see
        :meth:`Guarantee.variant_for`) instead of the registered guarantee, which
        carries the policy's other theorems as ``alternatives``.

    Returns
    -------
    Guarantee

    Raises
    ------
    ValueError
        If no guarantee is recorded under that name; the message lists the known ones.

    Examples
    --------
    >>> from matching.guarantees import guarantee_for
    >>> guarantee_for("balance").benchmark
    'OPT'
    >>> guarantee_for("ranking_vw")
    Traceback (most recent call last):
    ...
    ValueError: no guarantee is recorded for policy 'ranking_vw'; known policies: ...

    Reusable resources, each with one duration for all its edges (an LLM serving
    instance with ``c`` batch seats, each request holding a seat for the instance's
    reservation time):

    >>> import matching
    >>> from matching.guarantees import InputProperties
    >>> inst = matching.Instance([[0], [1], [2]], [(0, 0, 1.0, 1, 4.0), (1, 0, 1.0, 1, 9.0),
    ...                                            (0, 1, 1.0, 1, 4.0), (1, 2, 1.0, 1, 9.0)],
    ...                          capacity=[2, 3])
    >>> props = InputProperties.of(inst, reusable=True, arrival_model="adversarial")
    >>> theorem = guarantee_for("greedy", props)
    >>> theorem.setting, theorem.ratio_for(props)
    ('reusable resources, one duration per resource', Fraction(1, 2))
    >>> guarantee_for("greedy").describe(props)
    'ALG/OPT >= 1/2 = 0.500 (groups of <= 1; reusable resources, one duration per resource)'
    """
    try:
        guarantee = GUARANTEES[policy_name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(GUARANTEES))
        raise ValueError(
            f"no guarantee is recorded for policy {policy_name!r}; known policies: {known}"
        ) from None
    return guarantee if props is None else guarantee.variant_for(props)
