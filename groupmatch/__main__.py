"""Run the command line as ``python -m groupmatch``."""

from groupmatch.cli import main

raise SystemExit(main())
