"""Fill a migrated database with a large generated dataset for the scale work (issue 6).

    python manage.py load_scale_data [--users N --merchants N --themes N --slots N
                                      --bookings N --reviews N --seed S --force --not-production]

The defaults are the full size: 1.7M users, 20K merchants, 100K themes, 5M
slots, 16M bookings, 2M reviews (and a payment for every booking that went to
checkout). Rows are produced deterministically from ``random.Random(seed)``
relative to the time of the run, streamed to PostgreSQL with ``COPY`` (text
format, never more than one chunk in memory), and obey the domain rules:

- users have unique lowercase emails in ``@scale.bookwise.test`` and share one
  real password hash (printed at the end), so demo logins work;
- merchants are owned by distinct users with role merchant, mostly approved,
  with a valid IANA timezone; pending merchants have no themes;
- themes have ``min_party <= max_party``, prices (about 1 in 10 free), the
  currency of their merchant's city;
- a theme's slots never overlap (each sits in its own sub-interval of the
  window -180 .. +90 days around now), ``ends_at = starts_at + duration``,
  capacity 2..12, about 3% cancelled;
- seat-holding bookings of a slot never sum above its capacity, one per
  customer and slot; statuses match time (past slots: attended / no_show /
  cancelled / expired; future ones: confirmed, a few unpaid holds created in
  the last minutes, cancelled, expired; a handful of holds that ran out but were
  not swept yet); ``amount = price * party_size``; every unpaid hold has
  ``expires_at``; no customer holds more than BOOKING_MAX_UNPAID_HOLDS;
- reviews come only from customers who attended a slot of the theme (reservoir
  sample over the attended bookings), one per author and theme; each theme's
  ``rating_avg``/``review_count`` are then set with one UPDATE ... FROM aggregate;
- payments (SQL, from the bookings): succeeded for settled paid bookings,
  refunded for paid-then-cancelled ones, requires_payment for unpaid holds and
  for a share of expired checkouts.

No BookingStatusChange rows are generated: nothing on a hot path reads them.

Speed (full size: about 11 minutes on 2 cores, docs/PERFORMANCE.md): the domain
tables are truncated and the foreign keys, unique and exclusion constraints and
secondary indexes of the loaded tables dropped; each table is then loaded in its
own transaction (TRUNCATE + ``COPY ... WITH (FREEZE)``: rows land frozen and
all-visible, so index-only scans work without a VACUUM), and its indexes and
constraints are recreated on other connections (the slots' GiST exclusion index,
~8 minutes alone at full size, starts while the next tables are generated).
The DDL comes from the models (``schema_editor`` + ``Meta.indexes`` /
``Meta.constraints`` + the field indexes and foreign keys Django derives), and
at the end every index and constraint definition is compared with the one found
before the load: any difference is an error. Check constraints stay in place
during the COPY. Until a load finishes its tables carry a comment marker; a load
that was interrupted leaves it, and the next run recreates whatever is missing.

Safety: the command refuses to run on a database that holds a user outside the
generated domain unless ``--force`` (which truncates the domain tables and
everything that references them), and, like ``seed_demo``, refuses with DEBUG
off unless ``--not-production``: every generated account has a public password.
"""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Role, User
from bookings.models import Booking, BookingStatus
from catalog.models import Slot, SlotStatus, Theme
from merchants.models import Merchant, MerchantStatus
from payments.models import Payment, PaymentStatus
from reviews.models import Review

DOMAIN = "scale.bookwise.test"
PASSWORD = "bookwise-scale"
ADMIN_EMAIL = f"admin@{DOMAIN}"

# Models loaded by COPY, in load order; Payment rows are derived from bookings in SQL.
LOADED_MODELS: tuple[type[models.Model], ...] = (User, Merchant, Theme, Slot, Booking, Review, Payment)

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
CHUNK_ROWS = 20_000
LOAD_MARKER = "load_scale_data: load in progress (indexes dropped); run it again to finish"
PROGRESS_SECONDS = 5.0
FK_SUFFIX = "_fk_%(to_table)s_%(to_column)s"  # as Django's create_model names foreign keys

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


# --- Helpers -------------------------------------------------------------------------------------


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


class Progress:
    """Prints the row count and rate of one table every few seconds, and a summary at the end."""

    def __init__(self, write: Callable[[str], None], table: str, total: int | None) -> None:
        self.write, self.table, self.total = write, table, total
        self.started = self.last = time.monotonic()
        self.rows = 0

    def add(self, n: int) -> None:
        self.rows += n
        now = time.monotonic()
        if now - self.last >= PROGRESS_SECONDS:
            self.last = now
            of = f" of {self.total:,}" if self.total else ""
            self.write(f"  {self.table}: {self.rows:,}{of} rows, {self.rows / (now - self.started):,.0f} rows/s")

    def done(self) -> tuple[int, float]:
        elapsed = time.monotonic() - self.started
        rate = self.rows / max(elapsed, 1e-9)
        self.write(f"  {self.table}: {self.rows:,} rows in {elapsed:.1f} s ({rate:,.0f} rows/s)")
        return self.rows, elapsed


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


def _sql_default(fld: models.Field) -> str:
    """SQL literal of a column the INSERT ... SELECT does not know (a field added later): its default or NULL."""
    from psycopg import sql

    if fld.has_default():
        value = fld.get_db_prep_save(fld.get_default(), connection)
    elif fld.null:
        value = None
    else:
        raise CommandError(f"{fld.model.__name__}.{fld.name} has no default: teach load_scale_data how to fill it.")
    connection.ensure_connection()
    return sql.Literal(value).as_string(connection.connection)


def _copy_value(fld: models.Field) -> str:
    """COPY text for a column the generator does not know (a field added later): its default or NULL."""
    if fld.has_default():
        value = fld.get_db_prep_save(fld.get_default(), connection)
    elif fld.null:
        value = None
    elif isinstance(fld, (models.CharField, models.TextField)) and fld.blank:
        value = ""
    else:
        raise CommandError(f"{fld.model.__name__}.{fld.name} has no default: teach load_scale_data how to fill it.")
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        raise CommandError(f"Default of {fld.model.__name__}.{fld.name} needs COPY escaping.")
    return text


@dataclass
class CopyTarget:
    """A table's COPY statement: the generator's columns, then constants for any other column."""

    model: type[models.Model]
    columns: tuple[str, ...]
    extra_columns: tuple[str, ...] = ()
    suffix: str = ""

    @classmethod
    def build(cls, model: type[models.Model], columns: Iterable[str]) -> CopyTarget:
        columns = tuple(columns)
        fields = [f for f in model._meta.concrete_fields if not f.generated]
        known = {f.column for f in fields}
        unknown = set(columns) - known
        if unknown:
            raise CommandError(f"{model.__name__} has no column(s) {sorted(unknown)}: update load_scale_data.")
        extra = [f for f in fields if f.column not in columns]
        suffix = "".join("\t" + _copy_value(f) for f in extra)
        return cls(model, columns, tuple(f.column for f in extra), suffix)

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    def sql(self) -> str:
        cols = ", ".join(connection.ops.quote_name(c) for c in self.columns + self.extra_columns)
        return f"COPY {connection.ops.quote_name(self.table)} ({cols}) FROM STDIN WITH (FREEZE)"


# --- Indexes and constraints: drop before the load, recreate from the models after -----------------


@dataclass(frozen=True)
class Artefact:
    table: str
    name: str
    create_sql: str
    drop_sql: str

    @property
    def is_foreign_key(self) -> bool:
        return " FOREIGN KEY " in self.create_sql

    @property
    def takes_exclusive_lock(self) -> bool:
        """ADD CONSTRAINT (UNIQUE, EXCLUDE) holds ACCESS EXCLUSIVE on the table while it builds."""
        return self.create_sql.startswith("ALTER TABLE") and not self.is_foreign_key


class IndexBuilder:
    """Runs CREATE INDEX / ADD CONSTRAINT statements on `workers` threads, each with its own connection.

    Statements are taken in submission order; a failure is raised by `wait()`
    (and on exit), after which nothing else starts.
    """

    def __init__(self, say: Callable[[str], None], workers: int) -> None:
        self.say = say
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-builder")
        self.futures: list[Future] = []
        self.failed = threading.Event()
        self.started: float | None = None
        self.finished: float | None = None
        self.running_pids: set[int] = set()

    def __enter__(self) -> IndexBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            # Do not sit out a GiST build of minutes after a failure or Ctrl-C: cancel what runs.
            self.failed.set()
            self._cancel_running()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if exc_type is None:
            self.wait()

    def submit(self, artefacts: list[Artefact], *, foreign_keys: bool = False) -> None:
        if self.started is None:
            self.started = time.monotonic()
        # ADD CONSTRAINT locks its table for the whole build (the slots' GiST exclusion index takes
        # minutes): queue it after the table's other indexes, or the other connection would wait for it.
        for a in sorted(artefacts, key=lambda a: a.takes_exclusive_lock):
            if a.is_foreign_key == foreign_keys:
                self.futures.append(self.pool.submit(self._run, a))

    def _run(self, artefact: Artefact) -> None:
        if self.failed.is_set():
            return
        try:
            t = time.monotonic()
            with connection.cursor() as cursor:
                pid = connection.connection.info.backend_pid
                self.running_pids.add(pid)
                cursor.execute("SET maintenance_work_mem = '1GB'")
                cursor.execute(artefact.create_sql)
                self.running_pids.discard(pid)
            self.say(f"    built {artefact.table}.{artefact.name} in {time.monotonic() - t:.1f} s")
        except BaseException:
            self.failed.set()
            raise
        finally:
            self.finished = time.monotonic()
            connection.close()

    def wait(self) -> None:
        for future in self.futures:
            future.result()

    def _cancel_running(self) -> None:
        try:
            with connection.cursor() as cursor:
                for pid in list(self.running_pids):
                    cursor.execute("SELECT pg_cancel_backend(%s)", [pid])
        except Exception:  # noqa: BLE001, S110 - best effort while another error propagates
            pass

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - (self.started or time.monotonic())


def _unquote(name: object) -> str:
    return str(name).strip('"')


def catalog_snapshot(cursor, tables: list[str]) -> set[tuple[str, str, str, str]]:
    """Every index and constraint of `tables` with its definition, as PostgreSQL reports them."""
    cursor.execute(
        """
        SELECT 'index', c.relname, i.relname, pg_get_indexdef(i.oid)
          FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
         WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'constraint', c.relname, co.conname, pg_get_constraintdef(co.oid)
          FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
         WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
        """,
        [tables, tables],
    )
    return set(cursor.fetchall())


def model_artefacts(
    model: type[models.Model], editor, existing: dict[str, set[str]]
) -> tuple[list[Artefact], list[Artefact]]:
    """The droppable indexes and constraints of a model, with the DDL Django derives for them.

    Foreign keys, field indexes (FK and ``_like`` indexes), field-level UNIQUE
    constraints, and every ``Meta.indexes`` / non-check ``Meta.constraints``.
    The primary key and check constraints stay. `existing` maps a table to the
    index and constraint names found in the database, plus ``"unique:<column>"``
    keys naming field-level UNIQUE constraints (PostgreSQL named those).
    Returns (present in the database, derived by Django but absent from it).
    """
    table = model._meta.db_table
    found = existing.get(table, set())
    out: list[Artefact] = []
    for fld in model._meta.local_fields:
        if fld.primary_key:
            continue
        if fld.remote_field and fld.db_constraint:
            name = _unquote(editor._fk_constraint_name(model, fld, FK_SUFFIX))
            out.append(
                Artefact(
                    table,
                    name,
                    str(editor._create_fk_sql(model, fld, FK_SUFFIX)),
                    str(editor._delete_fk_sql(model, name)),
                )
            )
        for stmt in editor._field_indexes_sql(model, fld):
            name = _unquote(stmt.parts["name"])
            out.append(Artefact(table, name, str(stmt), str(editor._delete_index_sql(model, name))))
        if fld.unique:
            db_name = next((n.split("=", 1)[1] for n in found if n.startswith(f"unique:{fld.column}=")), None)
            if db_name:
                out.append(
                    Artefact(
                        table,
                        db_name,
                        str(editor._create_unique_sql(model, [fld], name=db_name)),
                        str(editor._delete_unique_sql(model, db_name)),
                    )
                )
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            continue
        out.append(
            Artefact(
                table,
                constraint.name,
                str(constraint.create_sql(model, editor)),
                str(constraint.remove_sql(model, editor)),
            )
        )
    for index in model._meta.indexes:
        create, drop = str(index.create_sql(model, editor)), str(index.remove_sql(model, editor))
        out.append(Artefact(table, index.name, create, drop))
    return [a for a in out if a.name in found], [a for a in out if a.name not in found]


def existing_names(cursor, tables: list[str]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {t: set() for t in tables}
    for _kind, table, name, _definition in catalog_snapshot(cursor, tables):
        names[table].add(name)
    cursor.execute(
        """
        SELECT c.relname, co.conname, a.attname
          FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = co.conkey[1]
         WHERE co.contype = 'u' AND cardinality(co.conkey) = 1 AND c.relname = ANY(%s)
           AND c.relnamespace = 'public'::regnamespace
        """,
        [tables],
    )
    for table, name, column in cursor.fetchall():
        names[table].add(f"unique:{column}={name}")
    return names


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
                f"{duration}\t{price}\t{currency}\t{min_party}\t{max_party}\t{cutoff}\t{'t' if active else 'f'}\t0\t0\n"
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


# Payments are derived from the loaded bookings on the server: one INSERT ... SELECT.
PAYMENTS_SQL = """
INSERT INTO payments_payment ({columns})
SELECT b.id, b.created_at + interval '20 seconds', {updated}, b.id,
       'pi_scale_' || b.id, 'pi_scale_' || b.id || '_secret_' || md5(b.id::text), b.amount, b.currency,
       {status}, 'booking-' || b.id || '-intent', '', '',
       CASE WHEN b.status IN ('confirmed', 'attended', 'no_show') OR b.confirmed_at IS NOT NULL
            THEN b.confirmed_at END{extra}
  FROM bookings_booking b
 WHERE b.amount > 0
   AND (b.confirmed_at IS NOT NULL OR b.status = 'pending_payment'
        OR (b.status = 'expired' AND b.id % 3 = 0))
"""
PAYMENT_STATUS_SQL = f"""CASE WHEN b.status IN ('confirmed', 'attended', 'no_show') THEN '{PaymentStatus.SUCCEEDED}'
            WHEN b.status = 'cancelled' AND b.confirmed_at IS NOT NULL THEN '{PaymentStatus.REFUNDED}'
            ELSE '{PaymentStatus.REQUIRES_PAYMENT}' END"""
PAYMENT_UPDATED_SQL = """CASE WHEN b.status = 'cancelled' THEN b.cancelled_at
            WHEN b.confirmed_at IS NOT NULL THEN b.confirmed_at
            ELSE b.created_at + interval '30 seconds' END"""
PAYMENT_COLUMNS = (
    "id", "created_at", "updated_at", "booking_id", "stripe_payment_intent_id", "client_secret", "amount", "currency",
    "status", "idempotency_key", "client_idempotency_key", "last_error", "succeeded_at",
)  # fmt: skip

RATING_SQL = """
UPDATE catalog_theme t
   SET rating_avg = a.avg, review_count = a.n
  FROM (SELECT theme_id, round(avg(rating), 2) AS avg, count(*) AS n
          FROM reviews_review WHERE NOT is_hidden GROUP BY theme_id) a
 WHERE t.id = a.theme_id
"""


class Command(BaseCommand):
    help = "Fill the database with a large, valid generated dataset through COPY (issue 6). Replaces domain data."

    def add_arguments(self, parser):
        for name, default in FULL_SIZE.items():
            parser.add_argument(f"--{name}", type=int, default=default, help=f"default {default:,}")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--no-payments", action="store_true", help="Do not derive payments from the bookings.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even though the database holds users outside @" + DOMAIN + ": they are DELETED (truncate).",
        )
        parser.add_argument(
            "--not-production",
            action="store_true",
            help="Run even with DEBUG off (tests, benchmarks): every generated account has a public password.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["not_production"]:
            raise CommandError(
                "load_scale_data creates accounts with a public password and truncates the domain tables: it runs "
                "only with DEBUG=True (or with --not-production on a database that is not production)."
            )
        sizes = Sizes(**{name: options[name] for name in FULL_SIZE}, payments=not options["no_payments"])
        sizes.check()
        self._refuse_unmigrated()
        self._refuse_foreign_data(force=options["force"])

        started = time.monotonic()
        gen = Generator(
            sizes,
            seed=options["seed"],
            now=int(timezone.now().timestamp()),
            hold_minutes=settings.BOOKING_HOLD_MINUTES,
            max_unpaid=settings.BOOKING_MAX_UNPAID_HOLDS,
        )
        self.timings: dict[str, tuple[int, float]] = {}
        t = time.monotonic()
        password_hash = make_password(PASSWORD)
        self.say(f"password hash computed in {time.monotonic() - t:.1f} s")

        tables = [m._meta.db_table for m in LOADED_MODELS]
        with connection.cursor() as cursor:
            before = catalog_snapshot(cursor, tables)
            interrupted = self._interrupted_tables(cursor, tables)
            names = existing_names(cursor, tables)
        by_table: dict[str, list[Artefact]] = {}
        with connection.schema_editor(atomic=False) as editor:
            for model in LOADED_MODELS:
                present, absent = model_artefacts(model, editor, names)
                table = model._meta.db_table
                by_table[table] = list(present)
                for a in absent:
                    if table in interrupted:
                        by_table[table].append(a)  # dropped by a load that did not finish: create it again
                    else:
                        self.say(self.style.WARNING(f"{a.table}.{a.name} is in the models, not in the database"))
        if interrupted:
            self.say(self.style.WARNING(f"an earlier load of {', '.join(interrupted)} did not finish: redoing it"))
        all_artefacts = [a for t in tables for a in by_table[t]]
        present_names = {(a.table, a.name) for a in all_artefacts if a.name in names[a.table]}

        def prepare() -> None:
            with transaction.atomic(), connection.cursor() as cursor:
                self._truncate(cursor, tables)
                for a in sorted(all_artefacts, key=lambda a: not a.is_foreign_key):
                    if (a.table, a.name) in present_names:
                        cursor.execute(a.drop_sql)
                for table in tables:
                    # Marks the table until its indexes are back, so an interrupted load is redone.
                    cursor.execute(f"COMMENT ON TABLE {connection.ops.quote_name(table)} IS %s", [LOAD_MARKER])

        self.step(f"truncate, drop {len(present_names)} indexes and constraints", prepare)

        # The slots' GiST exclusion index is the critical path (~8 CPU-minutes at full size): it starts on
        # its own connection as soon as the slots are in, with a core to itself while this thread
        # generates the other tables. Every other index waits for the end of the generation, then two
        # more connections build them next to the GiST's tail (more at once only slows the GiST).
        with IndexBuilder(self.say, workers=1) as early, IndexBuilder(self.say, workers=2) as late:
            deferred: list[Artefact] = []
            self._copy(CopyTarget.build(User, gen.USER_COLUMNS), gen.users(password_hash), sizes.users)
            self._copy(CopyTarget.build(Merchant, gen.MERCHANT_COLUMNS), gen.merchants(), sizes.merchants)
            self._copy(CopyTarget.build(Theme, gen.THEME_COLUMNS), gen.themes(), sizes.themes)
            self._copy(CopyTarget.build(Slot, gen.SLOT_COLUMNS), gen.slots(), sizes.slots)
            early.submit(by_table[Slot._meta.db_table])
            self._copy(CopyTarget.build(Booking, gen.BOOKING_COLUMNS), gen.bookings(), sizes.bookings)
            if len(gen.review_author) < sizes.reviews:
                self.say(
                    self.style.WARNING(
                        f"only {gen.attended_pairs:,} (customer, theme) pairs attended: "
                        f"loading {len(gen.review_author):,} reviews instead of {sizes.reviews:,}"
                    )
                )
            self._copy(CopyTarget.build(Review, gen.REVIEW_COLUMNS), gen.reviews(), len(gen.review_author))
            self.step("theme ratings (UPDATE ... FROM aggregate)", self._update_ratings)
            if sizes.payments:
                self.step("payments (INSERT ... SELECT from bookings)", self._payments)
            for model in (User, Merchant, Theme, Booking, Review, Payment):
                deferred += by_table[model._meta.db_table]
            late.submit(deferred)
            self.say("waiting for the index builds ...")
            late.wait()
            early.wait()
            self.timings["indexes and constraints (overlapped)"] = (0, max(early.elapsed(), late.elapsed()))
            # Foreign keys last: validating one reads both of its tables.
            t = time.monotonic()
            late.submit([a for a in all_artefacts if a.is_foreign_key], foreign_keys=True)
            late.wait()
            self.timings["foreign keys (validated)"] = (0, time.monotonic() - t)

        with transaction.atomic(), connection.cursor() as cursor:
            after = catalog_snapshot(cursor, tables)
            expected_new = {(a.table, a.name) for a in all_artefacts} - present_names
            missing = {row for row in before if row not in after}
            unexpected = {row for row in after if row not in before and (row[1], row[2]) not in expected_new}
            if missing or unexpected:
                raise CommandError(
                    "Indexes/constraints differ from the ones the migrations made (run the command again):\n"
                    f"  missing: {sorted(missing)}\n  unexpected: {sorted(unexpected)}"
                )
            self._reset_sequences(cursor)
            for table in tables:
                cursor.execute(f"COMMENT ON TABLE {connection.ops.quote_name(table)} IS NULL")
        self.step("vacuum analyze", lambda: self._analyze(tables))

        total = time.monotonic() - started
        self.say(self.style.SUCCESS(f"loaded in {total:.1f} s"))
        for label, (rows, seconds) in self.timings.items():
            rate = f"{rows / seconds:>12,.0f} rows/s" if rows and seconds else ""
            self.say(f"  {label:<52} {rows:>12,} rows {seconds:8.1f} s {rate}")
        self.say(
            f"Every account's password is {PASSWORD!r}: admin {ADMIN_EMAIL}, merchants merchant1..merchant"
            f"{sizes.merchants}@{DOMAIN}, customers customer1..customer{gen.customer_count}@{DOMAIN} "
            f"(customer1..customer{gen.hot_count} book the most)."
        )

    # --- steps -----------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def step(self, label: str, fn: Callable[[], object]) -> None:
        """Run one step and record its time (and its row count, when it returns one)."""
        self.say(f"{label} ...")
        t = time.monotonic()
        rows = fn()
        elapsed = time.monotonic() - t
        self.timings[label] = (rows if isinstance(rows, int) else 0, elapsed)
        self.say(f"  {label}: {elapsed:.1f} s")

    def _refuse_unmigrated(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("The database has unapplied migrations: run `manage.py migrate` first.")

    def _refuse_foreign_data(self, *, force: bool) -> None:
        foreign = list(
            User.objects.exclude(email__endswith=f"@{DOMAIN}").order_by("pk").values_list("email", flat=True)[:3]
        )
        if not foreign:
            return
        if not force:
            raise CommandError(
                f"This database holds users that load_scale_data did not generate (e.g. {', '.join(foreign)}). "
                "Use --force to delete ALL domain data (users, merchants, themes, slots, bookings, reviews, "
                "payments and what references them) and load the generated dataset."
            )
        self.say(self.style.WARNING(f"--force: deleting non-generated data (e.g. {', '.join(foreign)})"))

    @staticmethod
    def _interrupted_tables(cursor, tables: list[str]) -> list[str]:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
            "AND c.relnamespace = 'public'::regnamespace AND obj_description(c.oid, 'pg_class') = %s",
            [tables, LOAD_MARKER],
        )
        return sorted(row[0] for row in cursor.fetchall())

    @staticmethod
    def _truncate(cursor, tables: list[str]) -> None:
        quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
        # CASCADE also empties the tables that reference these (audit rows, refunds, tokens, admin log).
        cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")

    def _copy(self, target: CopyTarget, lines: Iterable[str], total: int) -> None:
        """One table in one transaction: TRUNCATE then COPY FREEZE (rows land frozen and all-visible)."""
        self.say(f"COPY {target.table} ...")
        progress = Progress(self.say, target.table, total)
        suffix = target.suffix
        with transaction.atomic(), connection.cursor() as cursor:
            self._truncate(cursor, [target.table])
            with cursor.copy(target.sql()) as copy:
                buf: list[str] = []
                for line in lines:
                    buf.append(line)
                    if len(buf) >= CHUNK_ROWS:
                        copy.write(self._chunk(buf, suffix))
                        progress.add(len(buf))
                        buf.clear()
                if buf:
                    copy.write(self._chunk(buf, suffix))
                    progress.add(len(buf))
        self.timings[f"COPY {target.table}"] = progress.done()

    @staticmethod
    def _chunk(lines: list[str], suffix: str) -> str:
        if suffix:
            return "".join(line[:-1] + suffix + "\n" for line in lines)
        return "".join(lines)

    @staticmethod
    def _update_ratings() -> int:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(RATING_SQL)
            return cursor.rowcount

    @staticmethod
    def _payments() -> int:
        fields = [f for f in Payment._meta.concrete_fields if not f.generated]
        known = set(PAYMENT_COLUMNS)
        missing = known - {f.column for f in fields}
        if missing:
            raise CommandError(f"Payment has no column(s) {sorted(missing)}: update load_scale_data.")
        extra = [f for f in fields if f.column not in known]
        columns = ", ".join(connection.ops.quote_name(c) for c in (*PAYMENT_COLUMNS, *(f.column for f in extra)))
        extra_sql = "".join(f", {_sql_default(f)}" for f in extra)
        sql = PAYMENTS_SQL.format(
            columns=columns, updated=PAYMENT_UPDATED_SQL, status=PAYMENT_STATUS_SQL, extra=extra_sql
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.rowcount

    @staticmethod
    def _reset_sequences(cursor) -> None:
        for sql in connection.ops.sequence_reset_sql(no_style(), list(LOADED_MODELS)):
            cursor.execute(sql)

    @staticmethod
    def _analyze(tables: list[str]) -> None:
        # VACUUM sets the visibility map of the rows written by UPDATE / INSERT (themes, payments) so
        # index-only scans stay index-only; COPY FREEZE already did it for the others (cheap to skip).
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"{verb} {connection.ops.quote_name(table)}")
