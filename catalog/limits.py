"""The bounds of what a theme or slot may hold: one place, read by the services, the API and the portal forms.

The services enforce the rules that need more than a number (a price in the
currency's minor unit, a horizon in the merchant's calendar); serializers and
forms bound their inputs with the same constants, so a value one adapter
accepts is never refused by another.
"""

from __future__ import annotations

from decimal import Decimal

# A theme's price per person, in minor units (bookwise.money): 1,000,000.00 USD, or ¥100,000,000.
MAX_PRICE = 100_000_000
# The same bound in major units of a currency without decimals (JPY): a bound for inputs typed in
# major units, before the currency is known; less than that in any other currency.
MAX_PRICE_MAJOR = Decimal(MAX_PRICE)

# Seats of one slot.
MAX_CAPACITY = 10_000
# A theme's smallest and largest party, and a booking's party size, are at most this.
MAX_PARTY = 1000
MAX_DURATION_MINUTES = 24 * 60
MAX_CANCELLATION_CUTOFF_HOURS = 24 * 30
THEME_DESCRIPTION_MAX_LENGTH = 10_000

# How far ahead a slot may start: up to this many days after today, in the merchant's calendar.
# The API, the portal's date fields and weekly schedules all apply this one bound.
SLOT_MAX_DAYS_AHEAD = 2 * 366
# A weekly schedule covers at most this many days, its first and last included.
SCHEDULE_MAX_DAYS = 366
# Start times per day of a weekly schedule.
SCHEDULE_MAX_TIMES_PER_DAY = 48

# How a theme is sold (API.md "Theme and slot fields"); validated by catalog.services.
# Ticket tiers of one theme, each {code, label, price}: a code is a short slug, unique per theme.
MAX_PRICE_TIERS = 8
PRICE_TIER_CODE_PATTERN = r"^[a-z0-9_-]{1,20}$"
PRICE_TIER_LABEL_MAX_LENGTH = 40
# A slot runs only with at least `min_players` seats taken, checked this many hours before its start.
MAX_MIN_PLAYERS = MAX_CAPACITY
MAX_MIN_PLAYERS_DEADLINE_HOURS = 720
# Refund tiers of a cancellation policy, each {hours_before, refund_percent}.
MAX_CANCELLATION_TIERS = 6
MAX_CANCELLATION_HOURS_BEFORE = 24 * 365
# Reminder emails before a slot's start (bookings.reminders): up to this many distinct whole hours per theme.
MAX_REMINDER_OFFSETS = 3
MAX_REMINDER_OFFSET_HOURS = 168

# Theme photos (catalog.photos): at most this many per theme, each upload at most this many bytes and pixels.
# The pixel bound is checked from the header, before any pixel is decoded (an "image bomb" is refused unread).
MAX_PHOTOS_PER_THEME = 6
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000
# The stored "original" is re-encoded at most this many pixels on its longer side.
PHOTO_ORIGINAL_MAX_SIDE = 2400
PHOTO_ALT_TEXT_MAX_LENGTH = 250
