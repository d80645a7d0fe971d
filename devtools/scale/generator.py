"""The scale dataset's rows, as COPY text lines: deterministic and obeying the domain rules.

Every table gets its own `random.Random(f"{seed}:{table}")` stream, and times are
relative to `now`, so two loads give the same rows shifted in time. What the
rows look like is described in `devtools/scale/__init__.py`. The generator keeps
compact per-row facts (arrays) between tables: bookings need the slots, reviews
the attended bookings.
"""

from __future__ import annotations

import bisect
import itertools
import random
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError

from accounts.models import Role
from bookings.models import BookingStatus
from catalog.models import SlotStatus
from merchants.models import MerchantStatus

DOMAIN = "scale.bookwise.test"
PASSWORD = "bookwise-scale"
ADMIN_EMAIL = f"admin@{DOMAIN}"

FULL_SIZE = {
    "users": 1_700_000,
    "merchants": 20_000,
    "themes": 100_000,
    "slots": 5_000_000,
    "bookings": 16_000_000,
    "reviews": 2_000_000,
}

DAY = 86_400
PAST_DAYS = 180
FUTURE_DAYS = 90
SLOT_GAP = 15 * 60  # at least this much between two slots of one theme

# (city, IANA timezone, currency); the first cities are the most common.
CITIES = (
    ("Paris", "Europe/Paris", "eur"),
    ("London", "Europe/London", "gbp"),
    ("New York", "America/New_York", "usd"),
    ("Berlin", "Europe/Berlin", "eur"),
    ("Lisbon", "Europe/Lisbon", "eur"),
    ("Madrid", "Europe/Madrid", "eur"),
    ("Tokyo", "Asia/Tokyo", "jpy"),
    ("Los Angeles", "America/Los_Angeles", "usd"),
    ("Amsterdam", "Europe/Amsterdam", "eur"),
    ("Rome", "Europe/Rome", "eur"),
    ("Chicago", "America/Chicago", "usd"),
    ("Sydney", "Australia/Sydney", "aud"),
    ("Toronto", "America/Toronto", "cad"),
    ("Barcelona", "Europe/Madrid", "eur"),
    ("Vienna", "Europe/Vienna", "eur"),
    ("Prague", "Europe/Prague", "czk"),
    ("Dublin", "Europe/Dublin", "eur"),
    ("Edinburgh", "Europe/London", "gbp"),
    ("Singapore", "Asia/Singapore", "sgd"),
    ("Seoul", "Asia/Seoul", "krw"),
    ("Melbourne", "Australia/Melbourne", "aud"),
    ("Vancouver", "America/Vancouver", "cad"),
    ("Austin", "America/Chicago", "usd"),
    ("Denver", "America/Denver", "usd"),
    ("Phoenix", "America/Phoenix", "usd"),
    ("Miami", "America/New_York", "usd"),
    ("Mexico City", "America/Mexico_City", "mxn"),
    ("Sao Paulo", "America/Sao_Paulo", "brl"),
    ("Buenos Aires", "America/Argentina/Buenos_Aires", "ars"),
    ("Cape Town", "Africa/Johannesburg", "zar"),
    ("Istanbul", "Europe/Istanbul", "try"),
    ("Warsaw", "Europe/Warsaw", "pln"),
    ("Stockholm", "Europe/Stockholm", "sek"),
    ("Copenhagen", "Europe/Copenhagen", "dkk"),
    ("Zurich", "Europe/Zurich", "chf"),
    ("Athens", "Europe/Athens", "eur"),
    ("Budapest", "Europe/Budapest", "huf"),
    ("Dubai", "Asia/Dubai", "aed"),
    ("Mumbai", "Asia/Kolkata", "inr"),
    ("Kathmandu", "Asia/Kathmandu", "npr"),
    ("Auckland", "Pacific/Auckland", "nzd"),
    ("Reykjavik", "Atlantic/Reykjavik", "isk"),
)
CITY_WEIGHTS = tuple(1.0 / (k + 1) for k in range(len(CITIES)))

FIRST_NAMES = [
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lea",
    "Marta",
    "Nora",
    "Omar",
    "Paula",
    "Quentin",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Xavier",
    "Yara",
    "Zoe",
    "Adam",
    "Bea",
    "Carlos",
    "Dina",
    "Elif",
    "Femi",
    "Gita",
    "Hana",
    "Ivan",
    "Jade",
    "Kofi",
    "Luca",
    "Mei",
    "Nils",
]
LAST_NAMES = [
    "Silva",
    "Martin",
    "Smith",
    "Muller",
    "Rossi",
    "Garcia",
    "Kim",
    "Tanaka",
    "Novak",
    "Jensen",
    "Costa",
    "Dubois",
    "Brown",
    "Schmidt",
    "Lopez",
    "Nguyen",
    "Khan",
    "Cohen",
    "Okafor",
    "Ivanova",
    "Larsen",
    "Moreau",
    "Walker",
    "Fischer",
    "Romano",
    "Sato",
    "Park",
    "Mendes",
    "Weber",
    "Clarke",
]

# (kind, subjects, phrases) for titles and descriptions: searchable words with a skewed spread.
THEME_KINDS = (
    (
        "Escape Room",
        ("Haunted Library", "Pharaoh's Tomb", "Space Station", "Bank Heist", "Submarine", "Asylum"),
        "solve puzzles against the clock|find the hidden key|crack the final code|work as a team to get out",
    ),
    (
        "Cooking Class",
        ("Fresh Pasta", "Sushi", "Tapas", "Dumpling", "Curry", "Sourdough"),
        "cook with a local chef|eat what you make|take the recipes home|seasonal market ingredients",
    ),
    (
        "Walking Tour",
        ("Old Town", "Street Art", "Food Market", "Riverside", "Ghost", "Architecture"),
        "meet a local guide|hidden courtyards and stories|stops for tasting|history off the beaten path",
    ),
    (
        "Pottery Workshop",
        ("Wheel Throwing", "Hand Building", "Glazing", "Raku", "Tea Bowl", "Vase"),
        "shape your own clay|all tools provided|fired and ready to collect|beginners welcome",
    ),
    (
        "Wine Tasting",
        ("Natural Wine", "Port", "Champagne", "Rioja", "Orange Wine", "Cellar"),
        "taste six wines|pairings with cheese|a sommelier explains|visit the cellar",
    ),
    (
        "Kayak Trip",
        ("Sunset", "Sea Cave", "Harbour", "Lagoon", "River Canyon", "Island"),
        "paddle with a guide|no experience needed|wetsuits provided|see the coast from the water",
    ),
    (
        "Photography Walk",
        ("Night", "Portrait", "Street", "Golden Hour", "Film", "Phone"),
        "learn composition|shoot with a pro|edit on the spot|bring any camera",
    ),
    (
        "Yoga Class",
        ("Sunrise", "Rooftop", "Vinyasa", "Yin", "Aerial", "Beach"),
        "all levels welcome|mats provided|breathe and stretch|finish with tea",
    ),
)
ADJECTIVES = [
    "Classic",
    "Secret",
    "Grand",
    "Little",
    "Midnight",
    "Royal",
    "Wild",
    "Golden",
    "Urban",
    "Hidden",
    "Modern",
    "Famous",
]
REVIEW_COMMENTS = (
    "",
    "",
    "Great fun, would book again.",
    "Our host was brilliant and very patient.",
    "A bit too short for the price.",
    "Well organised, started on time.",
    "Hard to find the entrance, but worth it.",
    "Perfect for a group of friends.",
    "Not what the description promised.",
    "The best thing we did on our trip!",
)
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (5, 7, 15, 33, 40)


class TimeText:
    """Epoch seconds to PostgreSQL timestamptz text, fast: two list look-ups and a concat."""

    def __init__(self, first_day: int, days: int) -> None:
        self.first_day = first_day
        base = datetime.fromtimestamp(first_day, tz=UTC)
        self.days = [(base + timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(days)]
        self.seconds = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+00" for s in range(DAY)]

    def __call__(self, epoch: int) -> str:
        d, s = divmod(epoch - self.first_day, DAY)
        return self.days[d] + self.seconds[s]


def allocate(total: int, weights: list[float], caps: list[int], rng: random.Random) -> list[int]:
    """Split `total` into integer counts proportional to `weights`, none above its cap."""
    if total > sum(caps):
        raise CommandError(f"Cannot place {total:,} items: at most {sum(caps):,} fit.")
    wsum = sum(weights) or 1.0
    counts = [min(cap, int(total * w / wsum)) for w, cap in zip(weights, caps, strict=True)]
    left = total - sum(counts)
    open_idx = [i for i, (c, cap) in enumerate(zip(counts, caps, strict=True)) if c < cap]
    while left > 0:
        rng.shuffle(open_idx)
        still_open = []
        for i in open_idx:
            if left == 0:
                break
            counts[i] += 1
            left -= 1
            if counts[i] < caps[i]:
                still_open.append(i)
        open_idx = still_open
    return counts


# --- The generator ----------------------------------------------------------------------------------


@dataclass
class Sizes:
    users: int
    merchants: int
    themes: int
    slots: int
    bookings: int
    reviews: int
    payments: bool = True

    def check(self) -> None:
        for name in ("users", "merchants", "themes", "slots", "bookings", "reviews"):
            if getattr(self, name) < 0:
                raise CommandError(f"--{name} must not be negative.")
        if self.merchants < 1 or self.users < self.merchants + 2:
            raise CommandError("Need at least one merchant and more users than merchants + 1 (admin, customers).")
        if self.themes and self.merchants < 1:
            raise CommandError("Themes need merchants.")
        if self.slots and not self.themes:
            raise CommandError("Slots need themes.")
        if self.bookings and not self.slots:
            raise CommandError("Bookings need slots.")


@dataclass
class State:
    """Compact per-row facts kept between tables (arrays, not objects: 5M slots fit in ~100 MB)."""

    merchant_status: list[str] = field(default_factory=list)
    merchant_city: list[int] = field(default_factory=list)
    theme_merchant: array = field(default_factory=lambda: array("i"))
    theme_price: array = field(default_factory=lambda: array("i"))
    theme_currency: list[str] = field(default_factory=list)
    theme_min: array = field(default_factory=lambda: array("b"))
    theme_max: array = field(default_factory=lambda: array("b"))
    theme_duration: array = field(default_factory=lambda: array("i"))
    theme_weight: list[float] = field(default_factory=list)
    slot_theme: array = field(default_factory=lambda: array("i"))
    slot_start: array = field(default_factory=lambda: array("q"))
    slot_created: array = field(default_factory=lambda: array("q"))
    slot_capacity: array = field(default_factory=lambda: array("b"))
    slot_cancelled_at: array = field(default_factory=lambda: array("q"))  # 0 = not cancelled


class Generator:
    def __init__(self, sizes: Sizes, seed: int, now: int, hold_minutes: int, max_unpaid: int) -> None:
        self.sizes = sizes
        self.seed = seed
        self.now = now
        self.hold = hold_minutes * 60
        self.max_unpaid = max_unpaid
        self.window_start = (now - PAST_DAYS * DAY) // 900 * 900
        self.window_end = (now + FUTURE_DAYS * DAY) // 900 * 900
        first_day = (now - 3 * 365 * DAY) // DAY * DAY
        self.ts = TimeText(first_day, 3 * 365 + FUTURE_DAYS + 30)
        self.state = State()
        self.customer_first = sizes.merchants + 2  # id 1 is the admin, 2..M+1 own the merchants
        self.customer_count = sizes.users - sizes.merchants - 1
        # One customer in a hundred books a lot (a tenth of all bookings).
        self.hot_count = max(1, self.customer_count // 100)
        self.attended_pairs = 0
        self.review_author = array("i")
        self.review_theme = array("i")
        self.review_after = array("q")

    def rng(self, table: str) -> random.Random:
        # One stream per table: changing one table's generator leaves the others' rows unchanged.
        return random.Random(f"{self.seed}:{table}")

    # users ------------------------------------------------------------------------------------
    USER_COLUMNS = (
        "id", "password", "last_login", "is_superuser", "email", "full_name", "role", "is_active", "is_staff",
        "date_joined",
    )  # fmt: skip

    def users(self, password_hash: str) -> Iterator[str]:
        rng = self.rng("users")
        r = rng.random
        ts = self.ts
        now = self.now
        span = 2 * 365 * DAY
        nf, nl = len(FIRST_NAMES), len(LAST_NAMES)
        yield f"1\t{password_hash}\t\\N\tt\t{ADMIN_EMAIL}\tScale Admin\t{Role.ADMIN}\tt\tt\t{ts(now - span)}\n"
        for i in range(2, self.sizes.users + 1):
            if i < self.customer_first:
                email, role = f"merchant{i - 1}@{DOMAIN}", Role.MERCHANT
            else:
                email, role = f"customer{i - self.customer_first + 1}@{DOMAIN}", Role.CUSTOMER
            name = f"{FIRST_NAMES[int(r() * nf)]} {LAST_NAMES[int(r() * nl)]}"
            active = "f" if r() < 0.01 else "t"
            joined = ts(now - int(r() * span) - DAY)
            yield f"{i}\t{password_hash}\t\\N\tf\t{email}\t{name}\t{role}\t{active}\tf\t{joined}\n"

    # merchants --------------------------------------------------------------------------------
    MERCHANT_COLUMNS = (
        "id", "created_at", "updated_at", "owner_id", "name", "description", "city", "timezone", "status",
        "approved_at",
    )  # fmt: skip

    def merchants(self) -> Iterator[str]:
        rng = self.rng("merchants")
        r = rng.random
        ts, now, st = self.ts, self.now, self.state
        city_cum = list(itertools.accumulate(CITY_WEIGHTS))
        for m in range(1, self.sizes.merchants + 1):
            roll = r()
            # The first merchant is always approved, so every size has a bookable catalog.
            status = (
                MerchantStatus.APPROVED
                if m == 1 or roll < 0.90
                else (MerchantStatus.PENDING if roll < 0.96 else MerchantStatus.SUSPENDED)
            )
            city = bisect.bisect_left(city_cum, r() * city_cum[-1])
            st.merchant_status.append(status)
            st.merchant_city.append(city)
            created = now - 400 * DAY - int(r() * 300 * DAY)
            approved = "\\N" if status == MerchantStatus.PENDING else ts(created + int(r() * 5 * DAY) + 3600)
            updated = ts(now - int(r() * 30 * DAY)) if status == MerchantStatus.SUSPENDED else approved
            if updated == "\\N":
                updated = ts(created)
            name = f"{LAST_NAMES[m % len(LAST_NAMES)]} {THEME_KINDS[m % len(THEME_KINDS)][0]}s {m}"
            cname, tzname, _currency = CITIES[city]
            yield (
                f"{m}\t{ts(created)}\t{updated}\t{m + 1}\t{name}\tExperiences in {cname}.\t{cname}\t{tzname}\t"
                f"{status}\t{approved}\n"
            )

    # themes -----------------------------------------------------------------------------------
    THEME_COLUMNS = (
        "id", "created_at", "updated_at", "merchant_id", "title", "description", "duration_minutes", "price",
        "currency", "min_party", "max_party", "cancellation_cutoff_hours", "is_active", "rating_avg", "review_count",
        "merchant_city_upper", "merchant_approved",
    )  # fmt: skip

    def themes(self) -> Iterator[str]:
        rng = self.rng("themes")
        r = rng.random
        ts, now, st = self.ts, self.now, self.state
        # Pending merchants have no themes; the others get a skewed number (most 1..8, a few dozens).
        weights = [0.0 if s == MerchantStatus.PENDING else rng.paretovariate(1.6) for s in st.merchant_status]
        cum = list(itertools.accumulate(weights))
        owners = sorted(bisect.bisect_left(cum, r() * cum[-1]) for _ in range(self.sizes.themes))
        durations = (45, 60, 60, 60, 90, 90, 120, 180)
        for t, m in enumerate(owners, start=1):
            kind, subjects, phrases = THEME_KINDS[int(r() * len(THEME_KINDS))]
            phrase_list = phrases.split("|")
            subject = subjects[int(r() * len(subjects))]
            title = f"{ADJECTIVES[int(r() * len(ADJECTIVES))]} {subject} {kind}"
            # The merchant's copies (Theme.merchant_city_upper, merchant_approved): the theme trigger
            # recomputes them from the merchant row during the COPY too; the names are ASCII, so
            # str.upper() is PostgreSQL's UPPER here.
            cname, _tz, currency = CITIES[st.merchant_city[m]]
            p1, p2 = rng.sample(phrase_list, 2)
            duration = durations[int(r() * len(durations))]
            description = f"A {duration}-minute {kind.lower()} in {cname}: {p1}, {p2}."
            price = 0 if r() < 0.1 else (5 + int(r() * 25) ** 2 // 5) * 100
            min_party = 1 if r() < 0.8 else 2
            max_party = min_party + 1 + int(r() * 7)
            active = r() >= 0.05
            created = now - 380 * DAY + int(r() * 200 * DAY)
            st.theme_merchant.append(m + 1)
            st.theme_price.append(price)
            st.theme_currency.append(currency)
            st.theme_min.append(min_party)
            st.theme_max.append(max_party)
            st.theme_duration.append(duration)
            # Popularity: drives the number of slots and how full they get.
            st.theme_weight.append(rng.paretovariate(2.0) * (0.2 if not active else 1.0))
            cutoff = (0, 12, 24, 24, 48)[int(r() * 5)]
            yield (
                f"{t}\t{ts(created)}\t{ts(created + int(r() * 30 * DAY))}\t{m + 1}\t{title}\t{description}\t"
                f"{duration}\t{price}\t{currency}\t{min_party}\t{max_party}\t{cutoff}\t{'t' if active else 'f'}\t0\t0\t"
                f"{cname.upper()}\t{'t' if st.merchant_status[m] == MerchantStatus.APPROVED else 'f'}\n"
            )

    # slots ------------------------------------------------------------------------------------
    SLOT_COLUMNS = ("id", "created_at", "updated_at", "theme_id", "starts_at", "ends_at", "capacity", "status")

    def slots(self) -> Iterator[str]:
        """Slots in creation order: merchants open a theme's slots in batches (a weekly schedule).

        Ids and the heap follow creation time, as in production. It matters for
        the load too: the GiST index of the exclusion constraint builds about
        three times faster from this order than from slots sorted by theme.
        """
        rng = self.rng("slots")
        r = rng.random
        ts, now, st = self.ts, self.now, self.state
        w0, w1 = self.window_start, self.window_end
        span = w1 - w0
        caps = [span // (d * 60 + SLOT_GAP) for d in st.theme_duration]
        counts = allocate(self.sizes.slots, st.theme_weight, caps, rng)
        # Pass 1: every slot's start (theme by theme, non-overlapping), grouped in batches.
        starts = array("q")
        batch_created, batch_first, batch_len, batch_theme = array("q"), array("i"), array("i"), array("i")
        for t, n in enumerate(counts):
            if not n:
                continue
            dur = st.theme_duration[t] * 60
            sub = span / n
            room = sub - dur  # >= SLOT_GAP by the cap: slot i ends before slot i + 1 starts
            first = len(starts)
            for i in range(n):
                lo = w0 + int(i * sub)
                hi = w0 + int(i * sub + room)
                start = lo + int(r() * (hi - lo))
                aligned = -(-start // 900) * 900  # the next quarter hour, when it still fits
                starts.append(aligned if aligned <= hi else start)
            i = 0
            while i < n:
                size = min(n - i, 4 + int(r() * 17))
                created = starts[first + i] - DAY - int(r() * 45 * DAY)
                if created > now - DAY:
                    created = now - DAY - int(r() * DAY)
                batch_created.append(created)
                batch_first.append(first + i)
                batch_len.append(size)
                batch_theme.append(t)
                i += size
        # Pass 2: batches oldest first, slot ids in that order.
        sid = 0
        open_, cancelled = SlotStatus.OPEN, SlotStatus.CANCELLED
        for b in sorted(range(len(batch_created)), key=batch_created.__getitem__):
            t = batch_theme[b]
            theme_id, dur, min_party = t + 1, st.theme_duration[t] * 60, st.theme_min[t]
            created = batch_created[b]
            for k in range(batch_first[b], batch_first[b] + batch_len[b]):
                start = starts[k]
                sid += 1
                capacity = max(2 + int(r() * 11), min_party)
                if r() < 0.03:
                    cancelled_at = created + int(r() * (min(start, now) - created))
                    status, updated = cancelled, cancelled_at
                else:
                    cancelled_at = 0
                    status, updated = open_, created
                st.slot_theme.append(theme_id)
                st.slot_start.append(start)
                st.slot_created.append(created)
                st.slot_capacity.append(capacity)
                st.slot_cancelled_at.append(cancelled_at)
                yield (
                    f"{sid}\t{ts(created)}\t{ts(updated)}\t{theme_id}\t{ts(start)}\t{ts(start + dur)}\t"
                    f"{capacity}\t{status}\n"
                )

    # bookings ---------------------------------------------------------------------------------
    BOOKING_COLUMNS = (
        "id", "created_at", "updated_at", "slot_id", "customer_id", "party_size", "status", "amount", "currency",
        "expires_at", "confirmed_at", "cancelled_at",
    )  # fmt: skip

    def _booking_counts(self, rng: random.Random) -> array:
        """How many bookings each slot gets: fuller when past, popular and soon; exactly `bookings` in all."""
        st, now = self.state, self.now
        r = rng.random
        weights: list[float] = []
        caps: list[int] = []
        tw = st.theme_weight
        for i in range(len(st.slot_theme)):
            cap = st.slot_capacity[i]
            days_ahead = (st.slot_start[i] - now) / DAY
            fill = 0.5 + r() if days_ahead <= 0 else max(0.05, 1.0 - days_ahead / FUTURE_DAYS) * (0.3 + r())
            weights.append(cap * fill * (0.5 + min(tw[st.slot_theme[i] - 1], 4.0)))
            caps.append(cap + 3)  # seat holders plus a few cancelled or expired
        return array("B", allocate(self.sizes.bookings, weights, caps, rng))

    def bookings(self) -> Iterator[str]:
        rng = self.rng("bookings")
        r = rng.random
        ts, now, st, hold = self.ts, self.now, self.state, self.hold
        counts = self._booking_counts(rng)
        S = BookingStatus
        holding_future = S.CONFIRMED
        c0, cn = self.customer_first, self.customer_count
        h0, hn = self.customer_first, self.hot_count
        expected_future = max(1, self.sizes.bookings // 3)
        p_hold = max(0.0005, min(0.02, 10 / expected_future))  # unpaid holds made in the last minutes
        p_due = p_hold / 3  # holds that ran out and wait for the sweep
        unpaid: dict[int, int] = {}
        max_unpaid = self.max_unpaid
        reviews_wanted = self.sizes.reviews
        r_author, r_theme, r_after = self.review_author, self.review_theme, self.review_after
        in_reservoir: dict[int, int] = {}
        tcount = len(st.theme_price) + 1
        bid = 0
        for si in range(len(counts)):
            n = counts[si]
            if not n:
                continue
            slot_id = si + 1
            t = st.slot_theme[si] - 1
            start = st.slot_start[si]
            end = start + st.theme_duration[t] * 60
            created0 = st.slot_created[si]
            capacity = st.slot_capacity[si]
            cancelled_at = st.slot_cancelled_at[si]
            price, currency = st.theme_price[t], st.theme_currency[t]
            pmin, pmax = st.theme_min[t], min(st.theme_max[t], capacity)
            free = price == 0
            past = start <= now
            # Bookings are made between the slot's publication and its start (or now).
            last = (cancelled_at or min(start, now)) - 1
            book_span = max(1, last - created0)
            left = capacity
            seen: list[int] = []
            for _ in range(n):
                while True:
                    cid = h0 + int(r() * hn) if r() < 0.1 else c0 + int(r() * cn)
                    if cid not in seen:
                        break
                seen.append(cid)
                party = pmin + int(r() * r() * (pmax - pmin + 1))
                created = created0 + int(r() * book_span)
                expires = confirmed = cancelled = "\\N"
                roll = r()
                if cancelled_at:
                    # The merchant cancelled the slot: everyone was cancelled (and refunded) then.
                    status = S.CANCELLED
                    if free or roll < 0.8:
                        confirmed = ts(created if free else min(created + 60 + int(r() * 600), cancelled_at))
                    else:
                        expires = ts(created + hold)
                    cancelled = ts(cancelled_at)
                    updated = cancelled_at
                elif not past and not free and roll < p_hold and unpaid.get(cid, 0) < max_unpaid and party <= left:
                    status = S.PENDING_PAYMENT
                    created = now - 30 - int(r() * (hold - 60))
                    expires = ts(created + hold)
                    updated = created
                    unpaid[cid] = unpaid.get(cid, 0) + 1
                    left -= party
                elif not past and not free and roll < p_hold + p_due:
                    status = S.PENDING_PAYMENT  # ran out a few minutes ago; the sweep has not run yet
                    created = now - hold - 60 - int(r() * 540)
                    expires = ts(created + hold)
                    updated = created
                else:
                    if created > now - hold - 120:
                        created = now - hold - 120 - int(r() * DAY)
                        created = max(created, created0 + 1)
                    roll = r()
                    holds = roll < (0.75 if past else 0.8)
                    if holds and party > left:
                        party = left if left >= pmin else party
                        holds = left >= pmin
                    paid_at = created if free else created + 30 + int(r() * 570)
                    if holds:
                        left -= party
                        confirmed = ts(paid_at)
                        if past:
                            status = S.ATTENDED if r() < 0.9 else S.NO_SHOW
                            updated = min(now, start + int(r() * (end - start + 7200)))
                            if status == S.ATTENDED and end <= now - 3600:
                                key = cid * tcount + t + 1
                                if key not in in_reservoir and reviews_wanted:
                                    self.attended_pairs += 1
                                    seen_n = self.attended_pairs
                                    if len(r_author) < reviews_wanted:
                                        in_reservoir[key] = len(r_author)
                                        r_author.append(cid)
                                        r_theme.append(t + 1)
                                        r_after.append(end)
                                    else:
                                        j = int(r() * seen_n)
                                        if j < reviews_wanted:
                                            del in_reservoir[r_author[j] * tcount + r_theme[j]]
                                            in_reservoir[key] = j
                                            r_author[j] = cid
                                            r_theme[j] = t + 1
                                            r_after[j] = end
                        else:
                            status = holding_future
                            updated = paid_at
                    elif free or r() < 0.5:
                        status = S.CANCELLED
                        if not free and r() < 0.5:
                            expires = ts(created + hold)  # cancelled while unpaid
                            when = created + int(r() * hold)
                        else:
                            confirmed = ts(paid_at)
                            when = paid_at + int(r() * max(1, min(start, now) - paid_at))
                        cancelled = ts(when)
                        updated = when
                    else:
                        status = S.EXPIRED
                        expires = ts(created + hold)
                        updated = created + hold + int(r() * 60)
                bid += 1
                yield (
                    f"{bid}\t{ts(created)}\t{ts(updated)}\t{slot_id}\t{cid}\t{party}\t{status}\t{price * party}\t"
                    f"{currency}\t{expires}\t{confirmed}\t{cancelled}\n"
                )

    # reviews ----------------------------------------------------------------------------------
    REVIEW_COLUMNS = ("id", "created_at", "updated_at", "author_id", "theme_id", "rating", "comment", "is_hidden")

    def reviews(self) -> Iterator[str]:
        rng = self.rng("reviews")
        r = rng.random
        ts, now = self.ts, self.now
        order = sorted(range(len(self.review_author)), key=self.review_after.__getitem__)
        nc = len(REVIEW_COMMENTS)
        for rid, j in enumerate(order, start=1):
            after = self.review_after[j]
            created = min(now - 60, after + 3600 + int(r() * 14 * DAY))
            rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]
            hidden = "t" if r() < 0.01 else "f"
            yield (
                f"{rid}\t{ts(created)}\t{ts(created)}\t{self.review_author[j]}\t{self.review_theme[j]}\t{rating}\t"
                f"{REVIEW_COMMENTS[int(r() * nc)]}\t{hidden}\n"
            )
