from baltui.cli import main

raise SystemExit(main())
