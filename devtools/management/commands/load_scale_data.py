"""`manage.py load_scale_data`: fill a migrated database with the large generated dataset (issue 6).

    python manage.py load_scale_data [--users N --merchants N --themes N --slots N
                                      --bookings N --reviews N --seed S --force --not-production]

Available where the `devtools` app is installed (DEBUG on, or BOOKWISE_DEVTOOLS=1).
This module only orchestrates; the parts live in `devtools/scale/` (what the data is,
how fast it loads and why: its package docstring): `generator` makes the rows, `ddl`
drops and recreates the indexes and constraints, `loader` streams the rows with COPY.

Safety: the command refuses to run on a database that holds a user outside the
generated domain unless ``--force`` (which truncates the domain tables and
everything that references them), and, like ``seed_demo``, refuses with DEBUG
off unless ``--not-production``: every generated account has a public password.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import User
from bookings.models import Booking
from catalog.models import Slot, Theme
from devtools.scale.ddl import (
    Artefact,
    IndexBuilder,
    catalog_snapshot,
    existing_names,
    interrupted_tables,
    mark_loading,
    model_artefacts,
    truncate,
    unmark_loaded,
)
from devtools.scale.generator import ADMIN_EMAIL, DOMAIN, FULL_SIZE, PASSWORD, Generator, Sizes
from devtools.scale.loader import (
    LOADED_MODELS,
    CopyTarget,
    analyze,
    copy_table,
    insert_payments,
    reset_sequences,
    update_ratings,
)
from merchants.models import Merchant
from payments.models import Payment
from reviews.models import Review


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
            interrupted = interrupted_tables(cursor, tables)
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
                truncate(cursor, tables)
                for a in sorted(all_artefacts, key=lambda a: not a.is_foreign_key):
                    if (a.table, a.name) in present_names:
                        cursor.execute(a.drop_sql)
                mark_loading(cursor, tables)

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
            self.step("theme ratings (UPDATE ... FROM aggregate)", update_ratings)
            if sizes.payments:
                self.step("payments (INSERT ... SELECT from bookings)", insert_payments)
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
            reset_sequences(cursor)
            unmark_loaded(cursor, tables)
        self.step("vacuum analyze", lambda: analyze(tables))

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

    def _copy(self, target: CopyTarget, lines: Iterable[str], total: int) -> None:
        self.timings[f"COPY {target.table}"] = copy_table(target, lines, total=total, say=self.say)
