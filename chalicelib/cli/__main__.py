"""``python -m chalicelib.cli``: the operators' entry point."""

import sys

from chalicelib.cli import main

sys.exit(main())
