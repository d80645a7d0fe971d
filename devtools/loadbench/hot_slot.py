"""Mode `hot-slot`: many customers join one new small slot at once; exactly its capacity must be held."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from datetime import timedelta

import httpx
import psycopg

from devtools.loadbench.auth import Account, TokenCache, authenticate, keep_tokens_fresh, token_scope
from devtools.loadbench.clients import CLIENTS, VuClient, bearer, error_code, new_client, timed
from devtools.loadbench.common import API, DATA_DIR, HOT_SLOT_MIN_TIMEOUT, SetupError, iso, now_utc, say
from devtools.loadbench.dataset import CUSTOMERS_SQL, sample_rows, stable_pick
from devtools.loadbench.results import fmt_ms, machine_info, public_config, write_json
from devtools.loadbench.stats import Recorder

HOT_THEME_SQL = """
SELECT t.id, u.id, u.email FROM catalog_theme t
  JOIN merchants_merchant m ON m.id = t.merchant_id
  JOIN accounts_user u ON u.id = m.owner_id
 WHERE t.is_active AND m.status = 'approved' AND u.is_active AND u.email LIKE %s
   AND t.min_party = 1 AND t.price > 0
 ORDER BY t.id LIMIT 200
"""
SEATS_HELD_SQL = """
SELECT COALESCE(sum(party_size), 0), count(*) FROM bookings_booking
 WHERE slot_id = %s AND (status IN ('confirmed', 'attended', 'no_show')
                         OR (status = 'pending_payment' AND expires_at > now()))
"""


async def create_hot_slot(
    client: httpx.AsyncClient, merchant: Account, theme_id: int, capacity: int, rng: random.Random
) -> dict:
    """A new slot about 100 days ahead (past the generated ones), retried on slot_overlap."""
    for _attempt in range(10):
        start = now_utc().replace(second=0, microsecond=0) + timedelta(days=100 + rng.randrange(0, 200))
        start = start.replace(minute=start.minute - start.minute % 5)
        resp = await client.post(
            f"{API}/themes/{theme_id}/slots/",
            json={"starts_at": iso(start), "capacity": capacity},
            headers=bearer(merchant.access),
        )
        if resp.status_code == 201:
            return resp.json()
        if resp.status_code != 409:
            raise SetupError(f"creating the hot slot: {resp.status_code} {resp.text[:300]}")
    raise SetupError("creating the hot slot: 10 overlaps in a row")


async def hot_slot_round(
    args: argparse.Namespace,
    base_urls: list[str],
    conn: psycopg.Connection,
    merchant: Account,
    theme_id: int,
    customers: list[Account],
    rng: random.Random,
) -> dict:
    admin = new_client(base_urls[0], args.timeout)
    # Every join queues behind the slot's row lock: the last of 500 waits for all the others.
    join_timeout = max(args.timeout, HOT_SLOT_MIN_TIMEOUT)
    clients = [CLIENTS[args.client](base_urls[i % len(base_urls)], join_timeout) for i in range(len(customers))]
    try:
        slot = await create_hot_slot(admin, merchant, theme_id, args.capacity, rng)
        say(f"  slot {slot['id']} of theme {theme_id}: capacity {slot['capacity']}, starts {slot['starts_at']}")
        # Open every connection first (a health request each), so the joins leave together.
        warm = Recorder()
        await asyncio.gather(*(timed(warm, c, "health", "GET", f"{API}/health/") for c in clients))
        rec = Recorder()
        go = asyncio.Event()
        statuses: Counter = Counter()
        per_url: Counter = Counter()

        async def join(i: int, client: VuClient, acc: Account) -> None:
            await go.wait()
            resp = await timed(
                rec, client, "join", "POST", f"{API}/slots/{slot['id']}/join/", token=acc.access,
                json_body={"party_size": 1},
            )  # fmt: skip
            key = "exception" if resp is None else f"{resp.status_code} {error_code(resp) or ''}".strip()
            statuses[key] += 1
            if resp is not None and resp.status_code == 201:
                per_url[base_urls[i % len(base_urls)]] += 1

        tasks = [asyncio.create_task(join(i, c, a)) for i, (c, a) in enumerate(zip(clients, customers, strict=True))]
        await asyncio.sleep(0.2)  # every task is parked on the event
        t0 = time.perf_counter()
        go.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0

        with conn.cursor() as cur:
            cur.execute(SEATS_HELD_SQL, [slot["id"]])
            seats, holding = cur.fetchone()
        seats_left = None
        resp = await admin.get(f"{API}/slots/{slot['id']}/")
        if resp.status_code == 200:
            seats_left = resp.json().get("seats_left")
        st = rec.stats("join").summary(wall)
        created = statuses.get("201", 0)
        five = sum(n for k, n in statuses.items() if k[:1] == "5")
        unexpected = {k: n for k, n in statuses.items() if k not in ("201", "409 slot_full")}
        checks = {
            f"exactly {args.capacity} seats held (SQL sum of party_size)": seats == args.capacity,
            "holding bookings == 201 responses": holding == created,
            "zero 5xx": five == 0,
            "seats_left == 0 (API)": seats_left == 0,
            "only 201 and 409 slot_full": not unexpected,
        }
        result = {
            "slot": slot["id"],
            "theme": theme_id,
            "clients": len(customers),
            "base_urls": base_urls,
            "statuses": dict(statuses),
            "created_by_url": dict(per_url),
            "seats_held_sql": seats,
            "holding_bookings_sql": holding,
            "seats_left_api": seats_left,
            "wall_s": round(wall, 3),
            "latency": st,
            "checks": checks,
            "passed": all(checks.values()),
        }
        if not args.keep_slot:
            resp = await admin.post(f"{API}/slots/{slot['id']}/cancel/", headers=bearer(merchant.access))
            result["slot_cancelled"] = resp.status_code == 200
        return result
    finally:
        await asyncio.gather(admin.aclose(), *(c.aclose() for c in clients))


async def hot_slot_main(args: argparse.Namespace, base_urls: list[str], conn: psycopg.Connection) -> int:
    if len(base_urls) < 2:
        say("warning: one base URL only; the hot-slot run is meant for two gunicorn instances")
    rng = random.Random(args.seed)
    with conn.cursor() as cur:
        cur.execute(HOT_THEME_SQL, [f"merchant%@{args.email_domain}"])
        themes = cur.fetchall()
    if not themes:
        raise SetupError("no active paid theme with min_party 1 of an approved generated merchant")
    theme_id, merchant_id, merchant_email = rng.choice(themes)
    merchant = Account(merchant_id, merchant_email)
    ds_rows = sample_rows(
        conn, CUSTOMERS_SQL, "accounts_user", args.clients * 2, args.seed + 1, f"customer%@{args.email_domain}"
    )
    if len(ds_rows) < args.clients:
        raise SetupError(f"only {len(ds_rows)} eligible customers; need {args.clients}")
    ds_rows = stable_pick(ds_rows, args.seed + 1)
    customers = [Account(uid, email) for uid, email in ds_rows[: args.clients]]
    cache = TokenCache(None if args.no_token_cache else DATA_DIR / "tokens.json", token_scope(args, base_urls[0]))
    await authenticate(
        base_urls,
        [merchant, *customers],
        password=args.password,
        cache=cache,
        concurrency=args.login_concurrency,
        timeout=args.timeout,
    )
    rounds = []
    for rnd in range(1, args.repeat + 1):
        await keep_tokens_fresh(
            base_urls, [merchant, *customers], seconds=120, password=args.password, cache=cache, timeout=args.timeout
        )
        say(f"-- hot slot, round {rnd}/{args.repeat}: {len(customers)} clients over {', '.join(base_urls)}")
        r = await hot_slot_round(args, base_urls, conn, merchant, theme_id, customers, rng)
        rounds.append(r)
        lat = r["latency"]
        say(
            f"  responses: {', '.join(f'{k}: {n}' for k, n in sorted(r['statuses'].items()))}; "
            f"201 by server: {r['created_by_url']}"
        )
        say(
            f"  SQL: {r['seats_held_sql']} seats held by {r['holding_bookings_sql']} bookings; API seats_left "
            f"{r['seats_left_api']}; all joins answered in {r['wall_s']:.2f} s "
            f"(p50 {fmt_ms(lat['p50_ms'])} ms, p99 {fmt_ms(lat['p99_ms'])} ms, max {fmt_ms(lat['max_ms'])} ms)"
        )
        for name, ok in r["checks"].items():
            say(f"  [{'PASS' if ok else 'FAIL'}] {name}")
        if "slot_cancelled" in r:
            say(f"  slot cancelled afterwards: {r['slot_cancelled']}")
        five = sum(n for k, n in r["statuses"].items() if k[:1] == "5")
        if five:
            say(f"!!! {five} responses were 5xx")
            for ex in lat["error_examples"]:
                say(f"!!!   {ex}")
    passed = all(r["passed"] for r in rounds)
    say(f"hot slot: {'PASS' if passed else 'FAIL'} ({len(rounds)} round(s))")
    write_json(
        args,
        "hot-slot",
        {
            "mode": "hot-slot",
            "started": iso(now_utc()),
            "config": public_config(args),
            "machine": machine_info(conn),
            "rounds": rounds,
            "passed": passed,
        },
    )
    return 0 if passed else 1
