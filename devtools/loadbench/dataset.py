"""The dataset: realistic ids picked up front from the database (TABLESAMPLE), so requests hit real rows."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass

import psycopg

from devtools.loadbench.auth import Account
from devtools.loadbench.common import SetupError, say

# --- SQL: pick realistic ids up front --------------------------------------------------------------
# A booking holds seats when confirmed/attended/no_show, or pending_payment before expires_at.
THEMES_SQL = """
SELECT t.id FROM catalog_theme t JOIN merchants_merchant m ON m.id = t.merchant_id
 WHERE t.is_active AND m.status = 'approved' ORDER BY t.id
"""
CITIES_SQL = "SELECT DISTINCT city FROM merchants_merchant WHERE status = 'approved' ORDER BY city"
MERCHANT_IDS_SQL = "SELECT id FROM merchants_merchant WHERE status = 'approved' ORDER BY id"
JOIN_SLOTS_SQL = """
SELECT s.id, t.min_party,
       s.capacity - COALESCE((SELECT sum(b.party_size) FROM bookings_booking b
                               WHERE b.slot_id = s.id
                                 AND (b.status IN ('confirmed', 'attended', 'no_show')
                                      OR (b.status = 'pending_payment' AND b.expires_at > now()))), 0)
  FROM catalog_slot s TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
  JOIN catalog_theme t ON t.id = s.theme_id
  JOIN merchants_merchant m ON m.id = t.merchant_id
 WHERE s.status = 'open' AND s.starts_at > now() + interval '2 days'
   AND t.is_active AND m.status = 'approved'
"""
CUSTOMERS_SQL = """
SELECT u.id, u.email FROM accounts_user u TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
 WHERE u.role = 'customer' AND u.is_active AND u.email LIKE %s
   AND NOT EXISTS (SELECT 1 FROM bookings_booking b
                    WHERE b.customer_id = u.id AND b.status = 'pending_payment' AND b.expires_at > now())
"""
# Without the unpaid-holds filter: `wrk` raises the holds cap, and its joins are not cancelled, so the
# filter would pick new customers (new logins) every run.
CUSTOMERS_ANY_SQL = """
SELECT u.id, u.email FROM accounts_user u TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
 WHERE u.role = 'customer' AND u.is_active AND u.email LIKE %s
"""
# Slots a merchant looks at: last week to next month, with at least one booking.
MERCHANT_SLOTS_SQL = """
SELECT u.id, u.email, s.id
  FROM catalog_slot s TABLESAMPLE BERNOULLI (%s) REPEATABLE (%s)
  JOIN catalog_theme t ON t.id = s.theme_id
  JOIN merchants_merchant m ON m.id = t.merchant_id
  JOIN accounts_user u ON u.id = m.owner_id
 WHERE m.status = 'approved' AND u.is_active AND u.email LIKE %s
   AND s.starts_at BETWEEN now() - interval '7 days' AND now() + interval '30 days'
   AND EXISTS (SELECT 1 FROM bookings_booking b WHERE b.slot_id = s.id)
"""
RELTUPLES_SQL = "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s) AND relkind = 'r'"
DATASET_TABLES = (
    "accounts_user", "merchants_merchant", "catalog_theme", "catalog_slot", "bookings_booking", "reviews_review",
    "payments_payment",
)  # fmt: skip


@dataclass
class Dataset:
    theme_ids: list[int]
    cities: list[str]
    merchant_ids: list[int]
    join_slots: list[tuple[int, int]]  # (slot id, party size)
    customers: list[Account]
    merchants: list[tuple[Account, list[int]]]  # owner, slots with participants
    sizes: dict[str, int]


def db_connect(url: str) -> psycopg.Connection:
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise SetupError(f"cannot connect to {url}: {exc}") from exc


def sample_rows(conn: psycopg.Connection, sql: str, table: str, want: int, seed: int, *extra) -> list[tuple]:
    """Rows of a TABLESAMPLE query, widening the sample until `want` rows came back (or all)."""
    with conn.cursor() as cur:
        cur.execute(RELTUPLES_SQL, [[table]])
        row = cur.fetchone()
        total = max(int(row[1]) if row else 0, 1)
        pct = min(100.0, want * 100.0 / total)
        while True:
            cur.execute(sql, [pct, seed, *extra])
            rows = cur.fetchall()
            if len(rows) >= want or pct >= 100.0:
                return rows
            pct = min(100.0, pct * 4)


def stable_pick(rows: list[tuple], seed: int) -> list[tuple]:
    """Rows in a seeded pseudo-random order of their id that a few rows more or less do not reshuffle.

    The same customers come back run after run (their cached tokens stay useful) even though
    unpaid holds come and go between runs.
    """
    return sorted(rows, key=lambda r: hashlib.blake2b(f"{seed}:{r[0]}".encode(), digest_size=8).digest())


def table_sizes(conn: psycopg.Connection) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(RELTUPLES_SQL, [list(DATASET_TABLES)])
        return {name: int(n) for name, n in cur.fetchall()}


def load_dataset(
    conn: psycopg.Connection,
    *,
    customers: int,
    merchants: int,
    domain: str,
    seed: int,
    join_slots: int = 5000,
    customers_with_holds: bool = False,
) -> Dataset:
    rng = random.Random(seed)
    started = time.monotonic()
    with conn.cursor() as cur:
        cur.execute(THEMES_SQL)
        theme_ids = [r[0] for r in cur.fetchall()]
        cur.execute(CITIES_SQL)
        cities = [r[0] for r in cur.fetchall()]
        cur.execute(MERCHANT_IDS_SQL)
        merchant_ids = [r[0] for r in cur.fetchall()]
    if not theme_ids:
        raise SetupError("no public themes: load the data first (manage.py load_scale_data)")

    # A third of the slots lie in the future: sample about 6x what is needed, keep the ones with seats.
    rows = sample_rows(conn, JOIN_SLOTS_SQL, "catalog_slot", join_slots * 6, seed)
    slots = [(sid, min_party) for sid, min_party, left in rows if left >= min_party]
    rng.shuffle(slots)
    slots = slots[:join_slots]
    if not slots:
        raise SetupError("no future open slot with seats left (slots start > 2 days from now)")

    pattern = f"customer%@{domain}"
    customers_sql = CUSTOMERS_ANY_SQL if customers_with_holds else CUSTOMERS_SQL
    rows = stable_pick(sample_rows(conn, customers_sql, "accounts_user", customers * 2, seed, pattern), seed)
    if len(rows) < customers:
        raise SetupError(f"only {len(rows)} active {pattern} customers without unpaid holds; need {customers}")
    accounts = [Account(uid, email) for uid, email in rows[:customers]]

    by_owner: dict[tuple[int, str], list[int]] = {}
    if merchants:
        rows = sample_rows(conn, MERCHANT_SLOTS_SQL, "catalog_slot", 3000, seed, f"merchant%@{domain}")
        for uid, email, sid in rows:
            by_owner.setdefault((uid, email), []).append(sid)
        if not by_owner:
            raise SetupError("no merchant owns a slot with bookings between a week ago and a month ahead")
    owners = sorted(by_owner.items(), key=lambda kv: (-len(kv[1]), kv[0][0]))[:merchants]
    merchant_list = [(Account(uid, email), sorted(sids)) for (uid, email), sids in owners]
    say(
        f"dataset: {len(theme_ids):,} public themes, {len(slots):,} joinable slots, {len(accounts)} customers, "
        f"{len(merchant_list)} merchants picked in {time.monotonic() - started:.1f} s"
    )
    return Dataset(theme_ids, cities, merchant_ids, slots, accounts, merchant_list, table_sizes(conn))
