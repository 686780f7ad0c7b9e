from treeoflife.cli import main

raise SystemExit(main())
