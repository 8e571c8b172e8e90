"""``python -m agent`` runs the ``tastebud`` command line."""

import sys

from agent.cli import main

sys.exit(main())
