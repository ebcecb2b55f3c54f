"""``python -m pace_cli`` is the ``pace`` command."""

import sys

from pace_cli.main import main

sys.exit(main())
