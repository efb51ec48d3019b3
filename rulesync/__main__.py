"""`python -m rulesync`."""

import sys

from rulesync.cli import main

sys.exit(main())
