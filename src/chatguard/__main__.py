from chatguard.cli import main

raise SystemExit(main())
