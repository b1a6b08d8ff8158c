"""``python -m decluster`` runs the command line."""

import sys

from decluster.cli.commands import main

sys.exit(main())
