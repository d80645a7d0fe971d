#!/usr/bin/env python
"""EXPLAIN (ANALYZE, BUFFERS) every hot query of BookWise, as the real code builds it (issue 6).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bw_scale_full \\
        .venv/bin/python scripts/explain_hot_queries.py [--markdown plans.md] [--large 100000]

Each case calls the real selector, paginator or service (a write service runs
inside a transaction that is rolled back) while Django captures the SQL it
sends; every captured statement is then run as ``EXPLAIN (ANALYZE, BUFFERS)``,
twice, inside a rolled-back transaction: the first run warms the cache, the
second one's plan is printed. Parameters come from the data: the public theme
with the most upcoming open slots, the customer with the most bookings (from a
sample), a slot of that theme with participants, the most common city.

A ``Seq Scan`` on a table with more than ``--large`` rows is flagged, and the
exit status is 1 when any is found.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookwise.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from accounts.models import User  # noqa: E402
from bookings import catalog_selectors  # noqa: E402
from bookings import selectors as booking_selectors  # noqa: E402
from bookings import services as booking_services  # noqa: E402
from bookwise.errors import DomainError  # noqa: E402
from bookwise.pagination import DefaultPagination, NewestFirstCursorPagination, NoCountPagination  # noqa: E402

# The paginators build absolute links from the request's host.
settings.ALLOWED_HOSTS = ["*"]
EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
SEQ_SCAN = re.compile(r"(?:Parallel )?Seq Scan on (\w+)")
INDEX_USED = re.compile(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)?(?: using| on) (\w+)")
EXEC_TIME = re.compile(r"Execution Time: ([\d.]+) ms")


class Rollback(Exception):
    """Raised to undo what a write service did while its queries were captured."""


@dataclass
class Explained:
    case: str
    label: str
    sql: str
    plan: str
    cold_ms: float
    warm_ms: float
    indexes: list[str]
    seq_scans: list[str]
    large_seq_scans: list[str] = field(default_factory=list)


@dataclass
class Params:
    now: datetime
    theme_id: int
    slot_id: int
    join_slot_id: int
    join_party: int
    customer: User
    join_customers: list[User]
    city: str
    rare_city: str


def scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def table_rows() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = 'public'::regnamespace"
        )
        return dict(cursor.fetchall())


def pick_params(now: datetime) -> Params:
    """Realistic parameters: the busiest public theme, the heaviest customer, a slot with participants."""
    theme_id = scalar(
        """
        SELECT s.theme_id FROM catalog_slot s
          JOIN catalog_theme t ON t.id = s.theme_id JOIN merchants_merchant m ON m.id = t.merchant_id
         WHERE s.status = 'open' AND s.starts_at > %s AND t.is_active AND m.status = 'approved'
         GROUP BY s.theme_id ORDER BY count(*) DESC, s.theme_id LIMIT 1
        """,
        [now],
    )
    if theme_id is None:
        sys.exit("No public theme with upcoming open slots: load data first (manage.py load_scale_data).")
    # SQL below is assembled from constants only (S608 is a false positive there).
    holding = "b.status IN ('confirmed', 'attended', 'no_show') OR (b.status = 'pending_payment' AND b.expires_at > %s)"
    slot_id = scalar(
        f"""
        SELECT b.slot_id FROM bookings_booking b JOIN catalog_slot s ON s.id = b.slot_id
         WHERE s.theme_id = %s AND ({holding})
         GROUP BY b.slot_id ORDER BY count(*) DESC, b.slot_id LIMIT 1
        """,  # noqa: S608
        [theme_id, now],
    )
    join_slot_id, join_party = (
        connection.cursor().execute(
            f"""
            SELECT s.id, t.min_party FROM catalog_slot s JOIN catalog_theme t ON t.id = s.theme_id
             WHERE s.theme_id = %s AND s.status = 'open' AND s.starts_at > %s + interval '1 day'
               AND s.capacity - t.min_party >= COALESCE(
                   (SELECT sum(b.party_size) FROM bookings_booking b WHERE b.slot_id = s.id AND ({holding})), 0)
             ORDER BY s.starts_at LIMIT 1
            """,  # noqa: S608
            [theme_id, now, now],
        )
    ).fetchone() or (slot_id, 1)
    rows = table_rows().get("bookings_booking", 0)
    sample = min(100.0, 100.0 * 200_000 / rows) if rows else 100.0
    customer_id = scalar(
        f"SELECT customer_id FROM bookings_booking TABLESAMPLE SYSTEM ({sample:.4f}) REPEATABLE (1) "  # noqa: S608
        "GROUP BY customer_id ORDER BY count(*) DESC, customer_id LIMIT 1"
    ) or scalar("SELECT customer_id FROM bookings_booking ORDER BY id LIMIT 1")
    join_ids = [
        row[0]
        for row in connection.cursor()
        .execute(
            "SELECT u.id FROM accounts_user u WHERE u.role = 'customer' AND u.is_active AND NOT EXISTS "
            "(SELECT 1 FROM bookings_booking b WHERE b.customer_id = u.id AND b.slot_id = %s) ORDER BY u.id LIMIT 5",
            [join_slot_id],
        )
        .fetchall()
    ]
    city = scalar(
        "SELECT city FROM merchants_merchant WHERE status = 'approved' GROUP BY city ORDER BY count(*) DESC LIMIT 1"
    )
    # The catalog tail (docs/PERFORMANCE.md): the city with the fewest listed themes.
    rare_city = scalar(
        "SELECT m.city FROM merchants_merchant m JOIN catalog_theme t ON t.merchant_id = m.id "
        "WHERE m.status = 'approved' AND t.is_active GROUP BY m.city ORDER BY count(*), m.city LIMIT 1"
    )
    return Params(
        now=now,
        theme_id=theme_id,
        slot_id=slot_id,
        join_slot_id=join_slot_id,
        join_party=join_party,
        customer=User.objects.get(pk=customer_id),
        join_customers=list(User.objects.filter(pk__in=join_ids).order_by("pk")),
        city=city,
        rare_city=rare_city or city,
    )


def request(path: str, query: dict | None = None) -> Request:
    return Request(APIRequestFactory().get(path, query or {}))


def capture(run: Callable[[], object]) -> list[str]:
    """The SQL statements `run` sends, with anything it writes rolled back."""
    with CaptureQueriesContext(connection) as ctx:
        try:
            with transaction.atomic():
                run()
                raise Rollback
        except Rollback:
            pass
    return [q["sql"] for q in ctx.captured_queries if EXPLAINABLE.match(q["sql"])]


def explain(sql: str) -> tuple[str, float, float]:
    """Plan text and execution times (cold, warm) of two EXPLAIN ANALYZE runs, rolled back."""
    runs = []
    for _ in range(2):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                runs.append("\n".join(row[0] for row in cursor.fetchall()))
                raise Rollback
        except Rollback:
            pass
    times = [float(m.group(1)) if (m := EXEC_TIME.search(plan)) else float("nan") for plan in runs]
    return runs[1], times[0], times[1]


def cases(p: Params) -> list[tuple[str, Callable[[], object], list[str]]]:
    """(name, real code to run, labels of the captured statements worth a plan; [] = all)."""
    from catalog.selectors import ThemeFilters

    window = {"available_from": p.now + timedelta(days=1), "available_to": p.now + timedelta(days=8)}

    def catalog(**filters):
        def run():
            qs = catalog_selectors.theme_list_filtered(filters=ThemeFilters(**filters), now=p.now)
            return NoCountPagination().paginate_queryset(qs, request("/api/v1/themes/"))

        return run

    def my_bookings_first():
        return NewestFirstCursorPagination().paginate_queryset(
            booking_selectors.booking_list_for(user=p.customer), request("/api/v1/bookings/")
        )

    def my_bookings_cursor_page():
        paginator = NewestFirstCursorPagination()
        first = request("/api/v1/bookings/")
        paginator.paginate_queryset(booking_selectors.booking_list_for(user=p.customer), first)
        link = paginator.get_next_link()
        if link is None:
            return None
        cursor = parse_qs(urlparse(link).query)["cursor"][0]
        return NewestFirstCursorPagination().paginate_queryset(
            booking_selectors.booking_list_for(user=p.customer), request("/api/v1/bookings/", {"cursor": cursor})
        )

    def participants():
        return DefaultPagination().paginate_queryset(
            booking_selectors.slot_participants(slot_id=p.slot_id, now=p.now), request("/api/v1/slots/x/participants/")
        )

    def theme_slots():
        qs = catalog_selectors.slot_list_for_theme(theme_id=p.theme_id, now=p.now)
        return NoCountPagination().paginate_queryset(qs, request("/api/v1/themes/x/slots/"))

    def join():
        last_error = None
        for customer in p.join_customers:
            try:
                return booking_services.booking_join(
                    slot_id=p.join_slot_id, customer=customer, party_size=p.join_party, now=p.now
                )
            except DomainError as exc:  # e.g. too_many_holds: the counting queries still ran
                last_error = exc
        print(f"  (join ended with {last_error})")
        return None

    def sweep():
        return booking_services.bookings_expire_due(now=p.now)

    def reconcile():
        from checkout.tasks import RECONCILE_BATCH
        from payments import selectors as payment_selectors

        return payment_selectors.payment_ids_to_reconcile(
            now=p.now,
            window=timedelta(hours=settings.PAYMENT_RECONCILE_WINDOW_HOURS),
            min_age=timedelta(seconds=60),
            limit=RECONCILE_BATCH,
        )

    out: list[tuple[str, Callable[[], object], list[str]]] = [
        ("catalog: no filter, by title", catalog(), []),
    ]
    for ordering in ("price", "-price", "-rating_avg", "title"):
        out.append((f"catalog: available 1..8 days, ordering={ordering}", catalog(ordering=ordering, **window), []))
    out += [
        ("catalog: search 'escape' + available", catalog(search="escape", **window), []),
        ("catalog: search 'pasta', by -rating_avg", catalog(search="pasta", ordering="-rating_avg"), []),
        (
            f"catalog: city={p.city} + price 10..50 + available, by price",
            catalog(city=p.city, min_price=1000, max_price=5000, ordering="price", **window),
            [],
        ),
        ("catalog: price 10..50, by -price", catalog(min_price=1000, max_price=5000, ordering="-price"), []),
        (f"catalog: rare city={p.rare_city} + available 1..8 days, by title", catalog(city=p.rare_city, **window), []),
        (
            f"catalog: rare city={p.rare_city} + available 1..8 days, by price",
            catalog(city=p.rare_city, ordering="price", **window),
            [],
        ),
        ("theme's open slots with seats_left", theme_slots, []),
        ("join: lock-and-count (real booking_join, rolled back)", join, []),
        ("my bookings: first page", my_bookings_first, []),
        ("my bookings: cursor page 2", my_bookings_cursor_page, []),
        ("slot participants (count + page)", participants, []),
        ("expiry sweep (real bookings_expire_due, rolled back)", sweep, []),
        ("payment reconciliation", reconcile, []),
    ]
    return out


def summarize_sql(sql: str) -> str:
    one_line = " ".join(sql.split())
    return one_line if len(one_line) <= 110 else one_line[:107] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", help="also write the plans to this Markdown file")
    parser.add_argument("--large", type=int, default=100_000, help="tables with more rows count as large")
    args = parser.parse_args()

    now = timezone.now()
    sizes = table_rows()
    p = pick_params(now)
    print(f"database {connection.settings_dict['NAME']}, now {now:%Y-%m-%d %H:%M:%S} UTC")
    print(
        f"theme {p.theme_id}, slot {p.slot_id} (participants), join slot {p.join_slot_id} party {p.join_party}, "
        f"customer {p.customer.pk} ({p.customer.email}), city {p.city}, rare city {p.rare_city}"
    )
    results: list[Explained] = []
    for name, run, _labels in cases(p):
        print(f"\n=== {name}")
        for i, sql in enumerate(capture(run), start=1):
            plan, cold, warm = explain(sql)
            seq = SEQ_SCAN.findall(plan)
            item = Explained(
                case=name,
                label=f"{i}",
                sql=sql,
                plan=plan,
                cold_ms=cold,
                warm_ms=warm,
                indexes=sorted(set(INDEX_USED.findall(plan))),
                seq_scans=sorted(set(seq)),
                large_seq_scans=sorted({t for t in seq if sizes.get(t, 0) > args.large}),
            )
            results.append(item)
            flag = f"  <-- SEQ SCAN ON LARGE TABLE {', '.join(item.large_seq_scans)}" if item.large_seq_scans else ""
            print(f"--- [{i}] {summarize_sql(sql)}")
            print(f"    {warm:.3f} ms warm ({cold:.3f} ms first run); indexes: {', '.join(item.indexes) or '-'}{flag}")
            print("    " + plan.replace("\n", "\n    "))

    flagged = [r for r in results if r.large_seq_scans]
    print("\n=== summary")
    for r in results:
        mark = " SEQ SCAN: " + ", ".join(r.large_seq_scans) if r.large_seq_scans else ""
        print(f"{r.warm_ms:9.3f} ms  {r.case} [{r.label}]  {', '.join(r.indexes) or '-'}{mark}")
    print(f"\n{len(flagged)} statement(s) scan a table of more than {args.large:,} rows sequentially.")
    if args.markdown:
        write_markdown(Path(args.markdown), results, p, sizes, now)
        print(f"plans written to {args.markdown}")
    return 1 if flagged else 0


def write_markdown(path: Path, results: list[Explained], p: Params, sizes: dict[str, int], now: datetime) -> None:
    lines = [
        f"Plans from `scripts/explain_hot_queries.py` on `{connection.settings_dict['NAME']}` at {now:%Y-%m-%d %H:%M} "
        f"UTC: theme {p.theme_id}, participants slot {p.slot_id}, join slot {p.join_slot_id}, "
        f"customer {p.customer.pk}, city {p.city}.",
        "",
        "| query | statement | warm ms | first ms | indexes | seq scans |",
        "|---|---|---:|---:|---|---|",
    ]
    for r in results:
        statement = summarize_sql(r.sql).split(" FROM ")[0][:40].replace("|", "\\|")
        seq = ", ".join(f"**{t}**" if t in r.large_seq_scans else t for t in r.seq_scans) or "-"
        lines.append(
            f"| {r.case} | [{r.label}] `{statement}` | {r.warm_ms:.3f} | {r.cold_ms:.3f} | "
            f"{', '.join(r.indexes) or '-'} | {seq} |"
        )
    lines.append("")
    for r in results:
        sql = " ".join(r.sql.split())
        lines += [f"#### {r.case} [{r.label}]", "", "```sql", sql, "```", "", "```", r.plan, "```", ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
