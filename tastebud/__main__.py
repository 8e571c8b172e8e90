"""``python -m tastebud`` runs the ``tastebud`` command line."""

import sys

from tastebud.cli import main

sys.exit(main())
