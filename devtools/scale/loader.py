"""The COPY loader: streams generated lines into a table, then derives what SQL can derive.

Each table is loaded in one transaction, TRUNCATE + `COPY ... WITH (FREEZE)` (rows
land frozen and all-visible, so index-only scans work without a VACUUM), in chunks
of CHUNK_ROWS lines: never more than one chunk in memory. Columns the generator
does not know (a field added later) get their default. Payments and theme ratings
are derived on the server from the loaded rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.management.base import CommandError
from django.core.management.color import no_style
from django.db import connection, models, transaction

from accounts.models import User
from bookings.models import Booking
from catalog.models import Slot, Theme
from devtools.scale.ddl import truncate
from merchants.models import Merchant
from payments.models import Payment, PaymentStatus
from reviews.models import Review

# Models loaded by COPY, in load order; Payment rows are derived from bookings in SQL.
LOADED_MODELS: tuple[type[models.Model], ...] = (User, Merchant, Theme, Slot, Booking, Review, Payment)
CHUNK_ROWS = 20_000
PROGRESS_SECONDS = 5.0


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


def _sql_default(fld: models.Field) -> str:
    """SQL literal of a column the INSERT ... SELECT does not know (a field added later): its default or NULL."""
    from psycopg import sql

    if isinstance(fld, models.JSONField) and fld.has_default():
        value: object = json.dumps(fld.get_default(), separators=(",", ":"))
    elif fld.has_default():
        value = fld.get_db_prep_save(fld.get_default(), connection)
    elif fld.null:
        value = None
    elif isinstance(fld, (models.CharField, models.TextField)) and fld.blank:
        value = ""
    else:
        raise CommandError(f"{fld.model.__name__}.{fld.name} has no default: teach load_scale_data how to fill it.")
    connection.ensure_connection()
    return sql.Literal(value).as_string(connection.connection)


def _copy_value(fld: models.Field) -> str:
    """COPY text for a column the generator does not know (a field added later): its default or NULL."""
    if isinstance(fld, models.JSONField) and fld.has_default():
        return json.dumps(fld.get_default(), separators=(",", ":"))
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


# Row triggers that copy merchant facts onto themes (catalog/migrations/0007_theme_merchant_denormalised.py):
# the generator writes the copies itself (Theme.merchant_city_upper, merchant_approved), so they are off
# during the COPY (a BEFORE ROW trigger also stops COPY's batched inserts: ~6x slower), and the copies
# are checked against the merchants right after.
COPY_SKIPPED_TRIGGERS = {
    "merchants_merchant": ("merchants_merchant_copy_to_themes_insert",),
    "catalog_theme": ("catalog_theme_copy_merchant",),
}
THEME_COPIES_MISMATCH_SQL = """
SELECT count(*) FROM catalog_theme t JOIN merchants_merchant m ON m.id = t.merchant_id
 WHERE t.merchant_city_upper IS DISTINCT FROM UPPER(m.city)
    OR t.merchant_approved IS DISTINCT FROM (m.status = 'approved')
"""


def copy_table(
    target: CopyTarget, lines: Iterable[str], *, total: int, say: Callable[[str], None]
) -> tuple[int, float]:
    """One table in one transaction: TRUNCATE then COPY FREEZE. Returns (rows, seconds)."""
    say(f"COPY {target.table} ...")
    progress = Progress(say, target.table, total)
    suffix = target.suffix
    table = connection.ops.quote_name(target.table)
    skipped = COPY_SKIPPED_TRIGGERS.get(target.table, ())
    with transaction.atomic(), connection.cursor() as cursor:
        truncate(cursor, [target.table])
        # Transactional, and the TRUNCATE holds the table's exclusive lock already: nobody sees them off.
        for trigger in skipped:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {connection.ops.quote_name(trigger)}")
        with cursor.copy(target.sql()) as copy:
            buf: list[str] = []
            for line in lines:
                buf.append(line)
                if len(buf) >= CHUNK_ROWS:
                    copy.write(_chunk(buf, suffix))
                    progress.add(len(buf))
                    buf.clear()
            if buf:
                copy.write(_chunk(buf, suffix))
                progress.add(len(buf))
        for trigger in skipped:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {connection.ops.quote_name(trigger)}")
        if target.model is Theme:
            cursor.execute(THEME_COPIES_MISMATCH_SQL)
            (mismatched,) = cursor.fetchone()
            if mismatched:
                raise CommandError(f"{mismatched} themes disagree with their merchant's city or status.")
    return progress.done()


def _chunk(lines: list[str], suffix: str) -> str:
    if suffix:
        return "".join(line[:-1] + suffix + "\n" for line in lines)
    return "".join(lines)


def update_ratings() -> int:
    """Every theme's rating_avg and review_count from its visible reviews: one UPDATE ... FROM aggregate."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(RATING_SQL)
        return cursor.rowcount


def insert_payments() -> int:
    """The payments of the loaded bookings, derived in SQL (one INSERT ... SELECT). Returns the row count."""
    fields = [f for f in Payment._meta.concrete_fields if not f.generated]
    known = set(PAYMENT_COLUMNS)
    missing = known - {f.column for f in fields}
    if missing:
        raise CommandError(f"Payment has no column(s) {sorted(missing)}: update load_scale_data.")
    extra = [f for f in fields if f.column not in known]
    columns = ", ".join(connection.ops.quote_name(c) for c in (*PAYMENT_COLUMNS, *(f.column for f in extra)))
    extra_sql = "".join(f", {_sql_default(f)}" for f in extra)
    sql = PAYMENTS_SQL.format(columns=columns, updated=PAYMENT_UPDATED_SQL, status=PAYMENT_STATUS_SQL, extra=extra_sql)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.rowcount


def reset_sequences(cursor) -> None:
    for sql in connection.ops.sequence_reset_sql(no_style(), list(LOADED_MODELS)):
        cursor.execute(sql)


def analyze(tables: list[str]) -> None:
    # VACUUM sets the visibility map of the rows written by UPDATE / INSERT (themes, payments) so
    # index-only scans stay index-only; COPY FREEZE already did it for the others (cheap to skip).
    verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"{verb} {connection.ops.quote_name(table)}")
