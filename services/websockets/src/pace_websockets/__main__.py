"""``python -m pace_websockets``: serve the live race service.

Configuration comes from ``PACE_*`` environment variables (settings.py).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pace_servicekit import configure_logging, run_app

from pace_websockets.app import create_app
from pace_websockets.settings import Settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; ``argv`` is accepted for symmetry and unused."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in {"-h", "--help"}:
        print(__doc__)
        return 0
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    run_app(
        create_app(settings), settings.host, settings.port, settings.shutdown_grace_s
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
