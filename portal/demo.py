"""The demo accounts that `manage.py seed_demo` creates, for development only.

Plain constants with no imports: `scripts/dev.py` reads this file before
Django is set up, to print the logins.
"""

DEMO_PASSWORD = "bookwise-demo"

ADMIN_EMAIL = "admin@bookwise.local"
MERCHANT_EMAIL = "merchant@bookwise.local"
CUSTOMER_EMAIL = "customer@bookwise.local"

DEMO_LOGINS = (
    ("admin", ADMIN_EMAIL),
    ("merchant", MERCHANT_EMAIL),
    ("customer", CUSTOMER_EMAIL),
)
