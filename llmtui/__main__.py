from llmtui.cli import main

raise SystemExit(main())
