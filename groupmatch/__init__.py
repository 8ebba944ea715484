"""The ``groupmatch`` command line: ``groupmatch demo`` and ``groupmatch solve``.

The library itself lives in the packages :mod:`matching` (primitives),
:mod:`scheduling` (applications) and :mod:`proofs` (certificates).
"""

__version__ = "0.1.0"
