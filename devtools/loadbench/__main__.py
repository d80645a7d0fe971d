"""`python -m devtools.loadbench ...`: the load benchmark (scripts/loadbench.py runs this too)."""

import sys

try:
    import httpx  # noqa: F401 - only to refuse early, with the fix
    import psycopg  # noqa: F401
except ImportError as exc:  # pragma: no cover - a setup message, not logic
    sys.exit(f"loadbench needs httpx and psycopg: .venv/bin/pip install -r requirements-dev.txt ({exc})")

from devtools.loadbench.cli import main  # noqa: E402 - after the check above

sys.exit(main())
