"""`python -m devtools.stripe_standin`: the same as scripts/stripe_standin.py."""

from devtools.stripe_standin.server import main

main()
