"""``python -m bench``: the entry point ``make bench`` calls."""

import sys

from bench.cli import main

sys.exit(main())
