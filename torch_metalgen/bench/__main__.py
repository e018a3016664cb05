from torch_metalgen.bench.cli import main

raise SystemExit(main())
