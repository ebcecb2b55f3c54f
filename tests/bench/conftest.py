"""Make the repository's ``bench`` package importable from the test process.

``bench/`` is not an installed workspace member (it is a tool that drives the
service from outside), so the repository root goes on ``sys.path`` here.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
