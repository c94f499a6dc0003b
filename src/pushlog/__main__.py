from pushlog.cli import main

raise SystemExit(main())
