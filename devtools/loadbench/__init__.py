"""BookWise load benchmark (issue 6): an asyncio httpx load generator against gunicorn.

Run it from the repository root with the virtualenv's Python, against a database
filled by ``manage.py load_scale_data`` (its users share the password
``bookwise-scale``; customers are ``customer<N>@scale.bookwise.test``, merchant
owners ``merchant<N>@scale.bookwise.test``)::

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bw_scale_full

    # Mixed traffic at 1, 8, 32, 128 clients, 30 s each, 3 repeats (medians), plus the
    # /api/v1/health/ ceiling at each level and each endpoint alone at the top level:
    .venv/bin/python scripts/loadbench.py mixed --start-gunicorn --workers 4

    # Service time: one client, sequential requests, 200 per endpoint:
    .venv/bin/python scripts/loadbench.py service --start-gunicorn --workers 2 -n 200

    # Hot slot: 500 customers join one new slot of capacity 20 at once, across two
    # gunicorn instances (ports 8000 and 8001); asserts exactly 20 seats taken, no 5xx:
    .venv/bin/python scripts/loadbench.py hot-slot --start-gunicorn --workers 2

    # Scale-free check: service-time p50 of a full-size run vs a 1% run (<= 1.5x):
    .venv/bin/python scripts/loadbench.py compare .data/bench/service-small.json .data/bench/service-full.json

Modes (subcommands):

- ``mixed``: every virtual user (one ``httpx.AsyncClient`` each, HTTP/1.1, keep-alive
  when the server allows it: gunicorn's default sync workers close every connection,
  ``--worker-class gthread`` keeps them) loops over a weighted mix of catalog browsing (random
  filters incl. ``available_from/to`` and ``ordering``), theme detail, a theme's slots,
  join + cancel of a future open slot, my bookings, and (as a merchant owning the slot)
  a slot's participants, for ``--duration`` seconds at each ``--levels`` concurrency.
  The same clients then hit ``/api/v1/health/`` alone (the stack's ceiling), and, at
  ``--saturation-levels``, each endpoint alone, so each endpoint's throughput is also a
  ratio to health. Reports per endpoint: count, p50/p95/p99 ms, req/s, errors, refused
  joins (409 ``slot_full``/``already_booked``), 5xx, the medians of ``--repeat`` runs.
- ``service``: one client, sequential requests, ``-n`` per endpoint; p50/p95/p99 against
  the targets (p95 <= 30 ms reads, <= 60 ms join).
- ``hot-slot``: creates (as its merchant, through the API) a slot of capacity 20 about 100
  days ahead, then ``--clients`` distinct customers join it at once, half on each of two
  base URLs; asserts with SQL that exactly 20 seats are held and that no 5xx came back,
  then cancels the slot (``--keep-slot`` keeps it).
- ``wrk``: each endpoint alone between ``/api/v1/health/`` runs, driven by ``wrk`` (C) and the Lua
  scripts of ``devtools/loadbench/wrk/``, at ``--connections`` levels: req/s, p50/p99, non-2xx, the
  ratio to health, gunicorn's and PostgreSQL's CPU ms per request (see ``devtools/loadbench/wrk.py``).
  ``python -m devtools.loadbench.flame`` splits a py-spy profile of the workers into named parts.
- ``compare``: the scale-free check between two ``service`` (or ``mixed``) result files.

Users log in before the measured window (``POST /api/v1/auth/token/``: one PBKDF2 hash
each, about 0.5 s of server CPU); their refresh tokens are cached in
``.data/bench/tokens.json`` so later runs only refresh (``--no-token-cache`` to skip).
Ids come from the database up front (psycopg, ``--database-url`` or ``DATABASE_URL``,
sampled with ``TABLESAMPLE ... REPEATABLE(--seed)``), so requests hit real rows.

With ``--start-gunicorn`` the script starts ``gunicorn bookwise.wsgi`` itself on
127.0.0.1 (``--workers``, ``--worker-class``, ``--threads``, ``--port``) with
DEBUG=False, ALLOWED_HOSTS=127.0.0.1,localhost, a SECRET_KEY kept in
``.data/bench/secret_key`` (or ``$SECRET_KEY``), REDIS_URL/CELERY_BROKER_URL =
``--redis-url`` (a Redis database of its own: the notification tasks queued by joins and
cancels land there, and the queue is emptied at the end), and every ``THROTTLE_<SCOPE>``
of ``.env.example`` raised to ``--throttle-rate`` so the benchmark measures the app, not
the limiter; it stops the servers at the end. Without it, point ``--base-url`` at a
server started that way (the throttles must be raised there too).

Reading the numbers: every phase also reports CPU use in percent of one core for the
load generator, the gunicorn processes started here, our database's backends, "other"
(the rest of the machine: publish nothing measured when it is not near 0) and the whole
machine, plus the load generator's CPU milliseconds per request. httpx costs about 1 ms
of CPU per request (0.25 ms with ``--client aiohttp``); on a 2-core machine that is a
large share of the health ceiling, so say which client produced published figures.

Bounded: only 127.0.0.1/localhost targets; every loop stops by time and by count
(``--max-requests`` per phase); results go to ``--out`` (default
``.data/bench/<mode>-<time>.json``, git-ignored) and a Markdown table on stdout.
Exit status: 0 when clean, 1 on any error/5xx (or a failed hot-slot assertion), 2 on a
setup problem.

``scripts/loadbench.py`` (or ``python -m devtools.loadbench``) runs it; the modules of this
package follow the run: ``dataset`` (ids picked up front), ``auth`` (logins and cached
tokens), ``clients`` and ``actions`` (virtual users), ``phases``, ``stats`` and ``cpu``
(measuring), ``servers`` (gunicorn), one module per mode (``mixed``, ``service``,
``hot_slot``, ``compare``, ``wrk``), ``results`` and ``cli``.
"""
