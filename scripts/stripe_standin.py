#!/usr/bin/env python3
"""Start the Stripe stand-in (localstripe + Connect) for development: `python scripts/stripe_standin.py --port N`.

Options: `--from-scratch` (start with an empty store, as the tests and
`scripts/dev.py run` do), `--public-url URL` (base of the account links' URLs
when the browser reaches the stand-in at another address). See
devtools/stripe_standin/__init__.py for what it adds to localstripe.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.stripe_standin.server import main  # noqa: E402 - after the path is set

if __name__ == "__main__":
    main()
