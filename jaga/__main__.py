import sys

from jaga.cli import main

sys.exit(main())
