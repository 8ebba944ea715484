"""Certificates of the competitive ratios that groupmatch states (see docs/proofs).

Every certificate has a ``check`` (:class:`proofs.exact.Check`) saying what its exact
``verify()`` establishes, and words its statement from the verified values:

- :mod:`proofs.lp` / :mod:`proofs.certificate`: RANKING's factor-revealing LP, bound to
  its claim through the registry :data:`proofs.claims.CLAIMS` (LP duality);
- :mod:`proofs.greedy`: greedy's dual fitting on a concrete instance;
- :mod:`proofs.attenuate`: LP sample-and-attenuate's attenuation chain on a concrete
  known model;
- :data:`proofs.claims.WRITTEN_PROOFS`: the general statements that rest on a written
  proof only, with no "certified" badge.

:mod:`proofs.adversary` searches for bad inputs (upper bounds on ratios) and
:mod:`proofs.catalog` builds and reports the certificates of the command line.
"""
