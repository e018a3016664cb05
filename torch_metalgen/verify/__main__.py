from torch_metalgen.verify.cli import main

raise SystemExit(main())
