"""`python -m app.simulator --port P`."""

import sys

from app.simulator.cli import main

raise SystemExit(main(sys.argv[1:]))
