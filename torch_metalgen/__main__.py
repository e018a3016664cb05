"""python -m torch_metalgen {demo, doctor, selftest, verify, bench}."""

import sys

from torch_metalgen.cli import main

sys.exit(main())
