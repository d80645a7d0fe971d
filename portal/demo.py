"""The demo accounts that `manage.py seed_demo` creates, for development only.

Plain constants with no imports: `scripts/dev.py` reads this file before
Django is set up, to print the logins.
"""

DEMO_PASSWORD = "bookwise-demo"

ADMIN_EMAIL = "admin@bookwise.local"
MERCHANT_EMAIL = "merchant@bookwise.local"
CUSTOMER_EMAIL = "customer@bookwise.local"

# An active promo code of the demo merchant (bookings.promo): 10 % off, 100 uses.
DEMO_PROMO_CODE = "WELCOME10"
DEMO_PROMO_PERCENT = 10
DEMO_PROMO_MAX = 100

DEMO_LOGINS = (
    ("admin", ADMIN_EMAIL),
    ("merchant", MERCHANT_EMAIL),
    ("customer", CUSTOMER_EMAIL),
)

# Sites the demo merchant lets embed its booking widget: a page served with `python -m http.server 8001`.
DEMO_WIDGET_ORIGINS = ("http://localhost:8001", "http://127.0.0.1:8001")
