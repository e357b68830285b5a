from theorybench.cli import main

raise SystemExit(main())
