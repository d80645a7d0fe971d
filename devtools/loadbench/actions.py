"""Virtual users and the actions they pick from the mix: browse, view, join + cancel, list."""

from __future__ import annotations

import argparse
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from devtools.loadbench.auth import Account
from devtools.loadbench.clients import VuClient, timed
from devtools.loadbench.common import ACTIONS, API, ORDERINGS, PRICE_FLOORS, PRICE_SPANS, SEARCH_TERMS, iso, now_utc
from devtools.loadbench.dataset import Dataset
from devtools.loadbench.stats import Recorder


@dataclass
class VirtualUser:
    index: int
    client: VuClient
    customer: Account
    merchant: Account | None
    merchant_slots: list[int]
    rng: random.Random


def catalog_params(rng: random.Random, ds: Dataset) -> dict[str, str]:
    """A random, plausible catalog query: each filter with its own probability."""
    p: dict[str, str] = {}
    if rng.random() < 0.4:
        start = now_utc().replace(minute=0, second=0, microsecond=0) + timedelta(hours=rng.randrange(0, 60 * 24))
        p["available_from"] = iso(start)
        p["available_to"] = iso(start + timedelta(days=rng.choice((1, 2, 3, 7))))
    if ds.cities and rng.random() < 0.3:
        p["city"] = rng.choice(ds.cities)
    if rng.random() < 0.2:
        p["search"] = rng.choice(SEARCH_TERMS)
    if rng.random() < 0.2:
        floor = rng.choice(PRICE_FLOORS)
        p["min_price"] = str(floor)
        p["max_price"] = str(floor + rng.choice(PRICE_SPANS))
    if ds.merchant_ids and rng.random() < 0.1:
        p["merchant"] = str(rng.choice(ds.merchant_ids))
    if rng.random() < 0.6:
        p["ordering"] = rng.choice(ORDERINGS)
    return p


async def act_catalog(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "catalog", "GET", f"{API}/themes/", params=catalog_params(vu.rng, ds))


async def act_theme(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "theme", "GET", f"{API}/themes/{vu.rng.choice(ds.theme_ids)}/")


async def act_slots(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    params = None
    if vu.rng.random() < 0.3:
        start = now_utc().replace(microsecond=0)
        params = {"from": iso(start), "to": iso(start + timedelta(days=14))}
    await timed(rec, vu.client, "slots", "GET", f"{API}/themes/{vu.rng.choice(ds.theme_ids)}/slots/", params=params)


async def act_join(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    """Join a future open slot, then cancel the hold at once (no payment): seats come back."""
    slot_id, party = vu.rng.choice(ds.join_slots)
    token = vu.customer.access
    resp = await timed(
        rec, vu.client, "join", "POST", f"{API}/slots/{slot_id}/join/", token=token, json_body={"party_size": party}
    )
    if resp is not None and resp.status_code == 201:
        booking_id = resp.json()["id"]
        await timed(rec, vu.client, "cancel", "POST", f"{API}/bookings/{booking_id}/cancel/", token=token)


async def act_my_bookings(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "my_bookings", "GET", f"{API}/bookings/", token=vu.customer.access)


async def act_participants(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    if vu.merchant is None or not vu.merchant_slots:
        return
    slot_id = vu.rng.choice(vu.merchant_slots)
    await timed(rec, vu.client, "participants", "GET", f"{API}/slots/{slot_id}/participants/", token=vu.merchant.access)


async def act_health(vu: VirtualUser, rec: Recorder, ds: Dataset) -> None:
    await timed(rec, vu.client, "health", "GET", f"{API}/health/")


Action = Callable[[VirtualUser, Recorder, Dataset], Awaitable[None]]
ACTION_FUNCS: dict[str, Action] = {
    "catalog": act_catalog,
    "theme": act_theme,
    "slots": act_slots,
    "join": act_join,
    "my_bookings": act_my_bookings,
    "participants": act_participants,
    "health": act_health,
}


def parse_mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in ACTIONS:
            raise argparse.ArgumentTypeError(f"unknown action {name!r} in --mix (known: {', '.join(ACTIONS)})")
        try:
            mix[name] = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in --mix: {part!r}") from None
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("--mix weights must add up to more than 0")
    return mix
