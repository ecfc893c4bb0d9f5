from stackaudit.cli import main

raise SystemExit(main())
