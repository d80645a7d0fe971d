"""The scale dataset (issue 6): `manage.py load_scale_data` fills a migrated database with it.

The command (devtools/management/commands/load_scale_data.py) orchestrates three parts:
`generator` (the rows), `ddl` (indexes and constraints: dropped, recreated, compared),
`loader` (COPY, and the rows derived in SQL).

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
"""
