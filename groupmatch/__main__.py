from groupmatch.cli import main

raise SystemExit(main())
