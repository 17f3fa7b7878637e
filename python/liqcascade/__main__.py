"""``python -m liqcascade`` runs the command line (``liqcascade --help``)."""

import sys

from .cli import main

sys.exit(main())
