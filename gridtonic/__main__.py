from gridtonic.cli import main

raise SystemExit(main())
