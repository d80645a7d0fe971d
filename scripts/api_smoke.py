#!/usr/bin/env python3
"""Walk API.md (everything outside payments) against a running BookWise server.

Standard library only, so it runs anywhere Python 3.11 does. Every request states
the status API.md promises; the script prints one line per check and exits 1 if
any failed. Each run uses fresh e-mail addresses, cities and themes, so it can be
repeated against the same database.

    python3 scripts/api_smoke.py --base-url http://127.0.0.1:8765 \\
        --admin-email admin@example.com --admin-password '...'

It needs a platform admin (to approve the merchant it registers); create one with

    python manage.py shell -c "from accounts.models import User; \\
        User.objects.create_superuser(email='admin@example.com', password='...', full_name='Admin')"

It registers and logs in about `--crowd` + 5 users: start the server with
THROTTLE_REGISTER / THROTTLE_LOGIN raised accordingly (e.g. 1000/hour, 1000/minute).
THROTTLE_LOGIN_EMAIL must stay low (default 5/minute): the last check expects a 429
from it. `--crowd 0` skips the concurrent join.

What runs in a server process (gunicorn with two workers, say) is checked end to end:
seats are counted under a lock, so `--crowd` customers joining one slot of capacity 5
at once get exactly 5 bookings, whichever worker each request lands on.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

PASSWORD = "smoke-Test-password-9431"
TIMEOUT = 30
CONTRACT_BOOKING_FIELDS = {
    "id",
    "slot",
    "theme",
    "party_size",
    "status",
    "amount",
    "currency",
    "expires_at",
    "created_at",
}
CONTRACT_THEME_FIELDS = {
    "id",
    "merchant",
    "title",
    "description",
    "duration_minutes",
    "price",
    "currency",
    "min_party",
    "max_party",
    "rating_avg",
    "review_count",
    "is_active",
}
CONTRACT_SLOT_FIELDS = {"id", "theme", "starts_at", "ends_at", "capacity", "seats_left", "status"}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class Smoke:
    base: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | None = None,
        accept: str = "application/json",
    ) -> Reply:
        url = self.base.rstrip("/") + "/api/v1/" + path.lstrip("/")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - URL from --base-url
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                status, content, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, content, headers = error.code, error.read(), dict(error.headers)
        try:
            parsed = json.loads(content) if content else None
        except ValueError:
            parsed = content.decode(errors="replace")
        return Reply(status, parsed, headers)

    def check(self, label: str, ok: bool, detail: str = "") -> bool:
        with self.lock:
            if ok:
                self.passed += 1
                print(f"ok    {label}")
            else:
                self.failed.append(label)
                print(f"FAIL  {label}  {detail}")
        return ok

    def expect(
        self, label: str, method: str, path: str, status: int | tuple[int, ...], body: Any = None, **kwargs
    ) -> Reply:
        reply = self.request(method, path, body, **kwargs)
        wanted = status if isinstance(status, tuple) else (status,)
        self.check(
            f"{label}: {method} {path} -> {'/'.join(map(str, wanted))}",
            reply.status in wanted,
            f"got {reply.status}: {str(reply.body)[:300]}",
        )
        return reply

    def code(self, label: str, reply: Reply, code: str) -> None:
        got = reply.body.get("code") if isinstance(reply.body, dict) else None
        self.check(f"{label}: code {code}", got == code, f"got {reply.body!r}"[:300])


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ids(reply: Reply) -> list[int]:
    return [row["id"] for row in reply.body["results"]] if isinstance(reply.body, dict) else []


class Walk:
    def __init__(self, smoke: Smoke, admin_email: str, admin_password: str, crowd: int) -> None:
        self.s = smoke
        self.run = uuid.uuid4().hex[:8]
        self.admin_email, self.admin_password = admin_email, admin_password
        self.crowd = crowd
        self.city = f"Smoketown-{self.run}"

    def email(self, who: str) -> str:
        return f"{who}-{self.run}@smoke.example.com"

    # --- Conventions --------------------------------------------------------------------
    def conventions(self) -> None:
        s = self.s
        health = s.expect("health", "GET", "health/", 200)
        s.check("health says ok", isinstance(health.body, dict) and health.body.get("status") == "ok")
        s.expect("OpenAPI schema", "GET", "schema/", 200)
        docs = s.request("GET", "docs/", accept="text/html")
        s.check("Swagger UI: GET docs/ -> 200", docs.status == 200, f"got {docs.status}")
        s.expect("malformed JSON is a 400, never a 500", "POST", "auth/register/", 400, raw=b'{"email": ')
        nowhere = s.expect("unknown API path", "GET", "no-such-thing/", 404)
        s.check("unknown API path answers JSON", isinstance(nowhere.body, dict), repr(nowhere.body)[:100])

    # --- Auth ---------------------------------------------------------------------------
    def register(self, who: str, full_name: str) -> dict:
        reply = self.s.expect(
            f"register {who}",
            "POST",
            "auth/register/",
            201,
            {"email": self.email(who), "password": PASSWORD, "full_name": full_name},
        )
        return reply.body if isinstance(reply.body, dict) else {}

    def login(self, email: str, password: str = PASSWORD) -> dict:
        reply = self.s.expect(f"token for {email}", "POST", "auth/token/", 200, {"email": email, "password": password})
        return reply.body if isinstance(reply.body, dict) else {}

    def auth(self) -> None:
        s = self.s
        user = self.register("customer", "Casey Customer")
        s.check(
            "register answers {id, email, full_name, role}",
            {"id", "email", "full_name", "role"} <= set(user) and user.get("role") == "customer",
            repr(user),
        )
        reply = s.expect(
            "invalid email", "POST", "auth/register/", 400, {"email": "nope", "password": PASSWORD, "full_name": "X"}
        )
        s.check("invalid email names the field", isinstance(reply.body, dict) and "email" in reply.body)
        reply = s.expect(
            "weak password",
            "POST",
            "auth/register/",
            400,
            {"email": self.email("weak"), "password": "123", "full_name": "X"},
        )
        s.check("weak password names the field", isinstance(reply.body, dict) and "password" in reply.body)
        s.expect(
            "duplicate email (any case)",
            "POST",
            "auth/register/",
            400,
            {"email": self.email("customer").upper(), "password": PASSWORD, "full_name": "X"},
        )
        self.customer = user
        self.other = self.register("other", "Otto Other")
        self.owner = self.register("owner", "Mia Merchant")

        pair = self.login(self.email("customer"))
        s.check("token answers {access, refresh}", {"access", "refresh"} <= set(pair), repr(pair)[:200])
        self.customer_token = pair.get("access", "")
        s.expect(
            "wrong password", "POST", "auth/token/", 401, {"email": self.email("customer"), "password": "wrong-" * 3}
        )

        first = pair.get("refresh", "")
        rotated = s.expect("refresh rotates", "POST", "auth/token/refresh/", 200, {"refresh": first}).body or {}
        s.check("refresh answers {access, refresh}", {"access", "refresh"} <= set(rotated))
        s.check("refresh returns a new refresh token", rotated.get("refresh") not in (None, first))
        s.expect("reusing a rotated refresh token", "POST", "auth/token/refresh/", 401, {"refresh": first})
        s.expect(
            "the token issued from a reused one is dead too",
            "POST",
            "auth/token/refresh/",
            401,
            {"refresh": rotated.get("refresh", "")},
        )

        session = self.login(self.email("customer"))
        s.expect(
            "logout",
            "POST",
            "auth/logout/",
            (204, 205),
            {"refresh": session.get("refresh")},
            token=session.get("access"),
        )
        s.expect("refresh after logout", "POST", "auth/token/refresh/", 401, {"refresh": session.get("refresh")})
        s.expect("logout needs a token", "POST", "auth/logout/", 401, {"refresh": "x"})

        me = s.expect("me", "GET", "users/me/", 200, token=self.customer_token).body or {}
        s.check("me answers {id, email, full_name, role}", {"id", "email", "full_name", "role"} <= set(me))
        s.expect("me without a token", "GET", "users/me/", 401)
        s.expect("me with a garbage token", "GET", "users/me/", 401, token="not.a.jwt")

        self.other_token = self.login(self.email("other")).get("access", "")
        self.owner_token = self.login(self.email("owner")).get("access", "")
        self.admin_token = self.login(self.admin_email, self.admin_password).get("access", "")

    # --- Merchants ----------------------------------------------------------------------
    def merchants(self) -> None:
        s = self.s
        application = {"name": f"Riddle Rooms {self.run}", "description": "Locks.", "city": self.city}
        reply = s.expect(
            "bad timezone",
            "POST",
            "merchants/",
            400,
            {**application, "timezone": "Mars/Olympus"},
            token=self.owner_token,
        )
        s.check("bad timezone names the field", isinstance(reply.body, dict) and "timezone" in reply.body)
        s.expect("apply needs a token", "POST", "merchants/", 401, {**application, "timezone": "Europe/Berlin"})
        merchant = (
            s.expect(
                "apply",
                "POST",
                "merchants/",
                201,
                {**application, "timezone": "Europe/Berlin", "status": "approved"},
                token=self.owner_token,
            ).body
            or {}
        )
        s.check("a new merchant is pending (status sent is ignored)", merchant.get("status") == "pending")
        self.merchant_id = merchant.get("id")
        reply = s.expect(
            "apply twice", "POST", "merchants/", 409, {**application, "timezone": "UTC"}, token=self.owner_token
        )
        s.check("409 body has detail and code", isinstance(reply.body, dict) and {"detail", "code"} <= set(reply.body))
        listed = s.expect("list merchants", "GET", f"merchants/?page_size=100&city={self.city}", 200)
        s.check("pending merchants are not listed", self.merchant_id not in ids(listed))
        s.expect("pending merchant hidden from the public", "GET", f"merchants/{self.merchant_id}/", 404)
        s.expect("owner sees the pending profile", "GET", f"merchants/{self.merchant_id}/", 200, token=self.owner_token)
        s.expect("admin sees the pending profile", "GET", f"merchants/{self.merchant_id}/", 200, token=self.admin_token)
        s.expect(
            "pending merchant cannot create themes",
            "POST",
            "themes/",
            403,
            self.theme_body("x", 100),
            token=self.owner_token,
        )
        s.expect("approve needs a token", "POST", f"merchants/{self.merchant_id}/approve/", 401)
        s.expect(
            "customer cannot approve", "POST", f"merchants/{self.merchant_id}/approve/", 403, token=self.customer_token
        )
        s.expect(
            "owner cannot approve themselves",
            "POST",
            f"merchants/{self.merchant_id}/approve/",
            403,
            token=self.owner_token,
        )
        s.expect("admin approves", "POST", f"merchants/{self.merchant_id}/approve/", 200, token=self.admin_token)
        me = s.request("GET", "users/me/", token=self.owner_token).body or {}
        s.check("the owner's role becomes merchant", me.get("role") == "merchant", repr(me))
        listed = s.expect("list merchants", "GET", f"merchants/?page_size=100&city={self.city}", 200)
        s.check("approved merchants are listed", self.merchant_id in ids(listed))
        s.check("list has the DRF envelope", {"next", "previous", "results"} <= set(listed.body or {}))
        s.expect("approved merchant is public", "GET", f"merchants/{self.merchant_id}/", 200)

    # --- Themes and slots ---------------------------------------------------------------
    def theme_body(self, title: str, price: int, **extra) -> dict:
        return {
            "title": title,
            "description": f"Smoke run {self.run}: find the key.",
            "duration_minutes": 60,
            "price": price,
            "currency": "eur",
            "min_party": 1,
            "max_party": 4,
            **extra,
        }

    def themes(self) -> None:
        s = self.s
        body = self.theme_body(f"Vault {self.run}", 2500, rating_avg=5, review_count=99, merchant=1)
        s.expect("create theme needs a token", "POST", "themes/", 401, body)
        s.expect("a customer cannot create themes", "POST", "themes/", 403, body, token=self.customer_token)
        theme = s.expect("create theme", "POST", "themes/", 201, body, token=self.owner_token).body or {}
        s.check("theme merchant is the caller's", theme.get("merchant") == self.merchant_id, repr(theme)[:200])
        s.check("rating fields sent are ignored", theme.get("rating_avg") == 0 and theme.get("review_count") == 0)
        self.theme = theme
        self.free_theme = (
            s.expect(
                "create free theme",
                "POST",
                "themes/",
                201,
                self.theme_body(f"Free hunt {self.run}", 0),
                token=self.owner_token,
            ).body
            or {}
        )
        self.pricey_theme = (
            s.expect(
                "create pricey theme",
                "POST",
                "themes/",
                201,
                self.theme_body(f"Atlas {self.run}", 9000),
                token=self.owner_token,
            ).body
            or {}
        )
        detail = s.expect("theme detail", "GET", f"themes/{theme.get('id')}/", 200).body or {}
        s.check("theme detail has the contract fields", set(detail) >= CONTRACT_THEME_FIELDS, repr(sorted(detail)))
        s.expect("patch theme needs a token", "PATCH", f"themes/{theme.get('id')}/", 401, {"title": "x"})
        s.expect(
            "a customer cannot patch",
            "PATCH",
            f"themes/{theme.get('id')}/",
            403,
            {"title": "x"},
            token=self.customer_token,
        )
        patched = (
            s.expect(
                "owner patches",
                "PATCH",
                f"themes/{theme.get('id')}/",
                200,
                {"description": f"Smoke run {self.run}: crack the vault.", "merchant": 1},
                token=self.owner_token,
            ).body
            or {}
        )
        s.check("patch keeps the merchant", patched.get("merchant") == self.merchant_id)

    def slots(self) -> None:
        s = self.s
        theme_id = self.theme.get("id")
        start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=17, minute=0, second=0, microsecond=0)
        path = f"themes/{theme_id}/slots/"
        s.expect("slot needs a token", "POST", path, 401, {"starts_at": iso(start), "capacity": 4})
        s.expect(
            "customer cannot add slots",
            "POST",
            path,
            403,
            {"starts_at": iso(start), "capacity": 4},
            token=self.customer_token,
        )
        s.expect(
            "naive datetime refused",
            "POST",
            path,
            400,
            {"starts_at": start.replace(tzinfo=None).isoformat(), "capacity": 4},
            token=self.owner_token,
        )
        s.expect(
            "start in the past refused",
            "POST",
            path,
            400,
            {"starts_at": iso(datetime.now(UTC) - timedelta(hours=1)), "capacity": 4},
            token=self.owner_token,
        )
        slot = (
            s.expect(
                "create slot",
                "POST",
                path,
                201,
                {"starts_at": iso(start), "capacity": 4, "seats_left": 0, "status": "cancelled"},
                token=self.owner_token,
            ).body
            or {}
        )
        s.check("slot has the contract fields", set(slot) >= CONTRACT_SLOT_FIELDS, repr(sorted(slot)))
        s.check(
            "a new slot is open with all seats", (slot.get("status"), slot.get("seats_left")) == ("open", 4), repr(slot)
        )
        s.check(
            "ends_at defaults to start + duration",
            slot.get("ends_at") is not None
            and parse(slot["ends_at"]) - parse(slot["starts_at"]) == timedelta(minutes=60),
        )
        s.check(
            "times carry an offset", bool(slot.get("starts_at")) and parse(slot["starts_at"]).utcoffset() is not None
        )
        self.slot = slot
        overlap = s.expect(
            "overlapping slot",
            "POST",
            path,
            409,
            {"starts_at": iso(start + timedelta(minutes=30)), "capacity": 4},
            token=self.owner_token,
        )
        s.code("overlapping slot", overlap, "slot_overlap")

        self.free_slot = (
            s.expect(
                "free theme slot",
                "POST",
                f"themes/{self.free_theme.get('id')}/slots/",
                201,
                {"starts_at": iso(start), "capacity": 10},
                token=self.owner_token,
            ).body
            or {}
        )
        self.crowd_slot = (
            s.expect(
                "crowd slot",
                "POST",
                path,
                201,
                {"starts_at": iso(start + timedelta(days=1)), "capacity": 5},
                token=self.owner_token,
            ).body
            or {}
        )

        # Weekly schedule in the merchant's timezone (Europe/Berlin).
        first = date.today() + timedelta(days=20)
        schedule = {
            "start_date": first.isoformat(),
            "end_date": (first + timedelta(days=6)).isoformat(),
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "times": ["10:00", "14:00"],
            "capacity": 6,
        }
        bulk = f"themes/{theme_id}/slots/bulk/"
        s.expect("customer cannot schedule", "POST", bulk, 403, schedule, token=self.customer_token)
        made = s.expect("weekly schedule", "POST", bulk, 201, schedule, token=self.owner_token).body or {}
        s.check("schedule creates 14 slots", made == {"created": 14, "skipped": 0}, repr(made))
        again = s.expect("same schedule again", "POST", bulk, 201, schedule, token=self.owner_token).body or {}
        s.check("overlapping ones are skipped", again == {"created": 0, "skipped": 14}, repr(again))
        too_many = {
            **schedule,
            "end_date": (first + timedelta(days=300)).isoformat(),
            "times": ["08:00", "10:00", "12:00", "14:00"],
        }
        s.expect("more than 1000 slots refused", "POST", bulk, 400, too_many, token=self.owner_token)

        window_from = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
        window = urlencode({"from": iso(window_from), "to": iso(window_from + timedelta(days=7))})
        listed = s.expect("slots in a window", "GET", f"{path}?{window}&page_size=100", 200).body or {}
        rows = listed.get("results", [])
        s.check("the window holds the 14 scheduled slots", len(rows) == 14, f"{len(rows)} slots")
        berlin = ZoneInfo("Europe/Berlin")
        local_times = {parse(row["starts_at"]).astimezone(berlin).strftime("%H:%M") for row in rows}
        s.check("scheduled slots are 10:00 and 14:00 Berlin time", local_times == {"10:00", "14:00"}, repr(local_times))
        self.bulk_slot = rows[0] if rows else {}
        s.expect("naive window refused", "GET", f"{path}?from=2030-01-01T00:00:00", 400)
        s.expect("one slot", "GET", f"slots/{slot.get('id')}/", 200)

    def catalog(self) -> None:
        s = self.s
        theme_id, pricey_id, free_id = self.theme.get("id"), self.pricey_theme.get("id"), self.free_theme.get("id")

        def found(query: str) -> list[int]:
            return ids(s.expect(f"themes?{query}", "GET", f"themes/?{query}&page_size=100", 200))

        s.check("search finds the theme", theme_id in found(f"search=vault+{self.run}"))
        mine = found(f"merchant={self.merchant_id}")
        s.check("merchant filter", set(mine) == {theme_id, pricey_id, free_id}, repr(mine))
        s.check("city filter", set(found(f"city={self.city}")) == {theme_id, pricey_id, free_id})
        s.check("min_price filter", set(found(f"merchant={self.merchant_id}&min_price=3000")) == {pricey_id})
        s.check("max_price filter", set(found(f"merchant={self.merchant_id}&max_price=2500")) == {theme_id, free_id})
        start = parse(self.slot["starts_at"]) if self.slot.get("starts_at") else datetime.now(UTC)
        window = {"available_from": iso(start - timedelta(hours=1)), "available_to": iso(start + timedelta(hours=1))}
        available = found(urlencode({"merchant": self.merchant_id, **window}))
        s.check(
            "availability window: themes with a free slot in it", set(available) == {theme_id, free_id}, repr(available)
        )
        far = datetime.now(UTC) + timedelta(days=400)
        empty = found(
            urlencode(
                {"merchant": self.merchant_id, "available_from": iso(far), "available_to": iso(far + timedelta(days=1))}
            )
        )
        s.check("availability window with no slot", empty == [], repr(empty))
        s.check(
            "ordering=price", found(f"merchant={self.merchant_id}&ordering=price") == [free_id, theme_id, pricey_id]
        )
        s.check(
            "ordering=-price", found(f"merchant={self.merchant_id}&ordering=-price") == [pricey_id, theme_id, free_id]
        )
        by_title = found(f"merchant={self.merchant_id}&ordering=title")
        s.check("ordering=title", by_title == [pricey_id, free_id, theme_id], repr(by_title))
        s.check("ordering=-rating_avg", set(found(f"merchant={self.merchant_id}&ordering=-rating_avg")) == set(mine))
        s.expect("unknown ordering", "GET", "themes/?ordering=owner", 400)
        page = s.expect("page_size=1", "GET", f"themes/?merchant={self.merchant_id}&page_size=1", 200).body or {}
        s.check("paginated: one row and a next link", len(page.get("results", [])) == 1 and page.get("next"))
        big = s.expect("page_size above 100 is capped", "GET", "themes/?page_size=1000", 200).body or {}
        s.check("at most 100 rows per page", len(big.get("results", [])) <= 100)

    # --- Bookings -----------------------------------------------------------------------
    def bookings(self) -> None:
        s = self.s
        slot_id = self.slot.get("id")
        join = f"slots/{slot_id}/join/"
        s.expect("join needs a token", "POST", join, 401, {"party_size": 1})
        s.expect("party below min_party", "POST", join, 400, {"party_size": 0}, token=self.customer_token)
        s.expect("party above max_party", "POST", join, 400, {"party_size": 5}, token=self.customer_token)
        booking = (
            s.expect(
                "join",
                "POST",
                join,
                201,
                {"party_size": 2, "status": "confirmed", "amount": 1},
                token=self.customer_token,
            ).body
            or {}
        )
        s.check("booking has the contract fields", set(booking) >= CONTRACT_BOOKING_FIELDS, repr(sorted(booking)))
        s.check("unpaid booking holds seats", booking.get("status") == "pending_payment", repr(booking.get("status")))
        s.check("amount = price x party", booking.get("amount") == 2500 * 2, repr(booking.get("amount")))
        s.check("expires_at is set", bool(booking.get("expires_at")))
        self.booking = booking
        s.code(
            "join twice",
            s.expect("join twice", "POST", join, 409, {"party_size": 1}, token=self.customer_token),
            "already_booked",
        )
        seats = (s.request("GET", f"slots/{slot_id}/").body or {}).get("seats_left")
        s.check("seats_left = capacity - held", seats == 2, repr(seats))
        s.code(
            "slot full",
            s.expect("too many for the seats left", "POST", join, 409, {"party_size": 3}, token=self.other_token),
            "slot_full",
        )
        free = (
            s.expect(
                "join a free theme",
                "POST",
                f"slots/{self.free_slot.get('id')}/join/",
                201,
                {},
                token=self.customer_token,
            ).body
            or {}
        )
        s.check(
            "a free theme confirms at once", free.get("status") == "confirmed" and free.get("amount") == 0, repr(free)
        )
        self.free_booking = free

        participants = f"slots/{slot_id}/participants/"
        s.expect("participants need a token", "GET", participants, 401)
        s.expect("customer cannot see participants", "GET", participants, (403, 404), token=self.customer_token)
        rows = (s.expect("owner sees participants", "GET", participants, 200, token=self.owner_token).body or {}).get(
            "results", []
        )
        row = rows[0] if rows else {}
        s.check(
            "participant shape",
            {"booking", "customer", "party_size", "status"} <= set(row)
            and {"id", "full_name", "email"} <= set(row.get("customer", {})),
            repr(row),
        )
        s.expect("admin sees participants", "GET", participants, 200, token=self.admin_token)

        s.code(
            "capacity below seats taken",
            s.expect(
                "capacity below seats taken", "PATCH", f"slots/{slot_id}/", 409, {"capacity": 1}, token=self.owner_token
            ),
            "capacity_below_booked",
        )
        s.expect(
            "customer cannot change capacity",
            "PATCH",
            f"slots/{slot_id}/",
            403,
            {"capacity": 9},
            token=self.customer_token,
        )
        grown = (
            s.expect("grow capacity", "PATCH", f"slots/{slot_id}/", 200, {"capacity": 6}, token=self.owner_token).body
            or {}
        )
        s.check("seats_left follows capacity", grown.get("seats_left") == 4, repr(grown))

        mine = ids(s.expect("my bookings", "GET", "bookings/", 200, token=self.customer_token))
        s.check("my bookings, newest first", mine[:2] == [free.get("id"), booking.get("id")], repr(mine))
        s.check(
            "someone else's list is theirs",
            booking.get("id") not in ids(s.request("GET", "bookings/", token=self.other_token)),
        )
        s.expect("bookings need a token", "GET", "bookings/", 401)
        s.expect("someone else's booking", "GET", f"bookings/{booking.get('id')}/", 404, token=self.other_token)
        s.expect("my booking", "GET", f"bookings/{booking.get('id')}/", 200, token=self.customer_token)
        s.expect("the slot's merchant sees it", "GET", f"bookings/{booking.get('id')}/", 200, token=self.owner_token)
        s.expect(
            "cannot cancel someone else's", "POST", f"bookings/{booking.get('id')}/cancel/", 404, token=self.other_token
        )

    def attendance(self) -> None:
        s = self.s
        s.expect("attendance needs a token", "POST", "attendance/", 401, {"booking": 1, "status": "attended"})
        s.code(
            "unpaid booking",
            s.expect(
                "mark an unpaid booking",
                "POST",
                "attendance/",
                409,
                {"booking": self.booking.get("id"), "status": "attended"},
                token=self.owner_token,
            ),
            "not_confirmed",
        )
        s.code(
            "before the start",
            s.expect(
                "mark before the slot starts",
                "POST",
                "attendance/",
                409,
                {"booking": self.free_booking.get("id"), "status": "no_show"},
                token=self.owner_token,
            ),
            "slot_not_started",
        )
        s.expect(
            "a customer cannot mark attendance",
            "POST",
            "attendance/",
            (403, 404),
            {"booking": self.free_booking.get("id"), "status": "attended"},
            token=self.customer_token,
        )
        s.expect(
            "bad status",
            "POST",
            "attendance/",
            400,
            {"booking": self.free_booking.get("id"), "status": "confirmed"},
            token=self.owner_token,
        )

    def reviews(self) -> None:
        s = self.s
        theme_id = self.theme.get("id")
        s.expect("review needs a token", "POST", "reviews/", 401, {"theme": theme_id, "rating": 5})
        s.code(
            "not attended",
            s.expect(
                "review without attending",
                "POST",
                "reviews/",
                403,
                {"theme": theme_id, "rating": 5, "comment": "?"},
                token=self.customer_token,
            ),
            "not_attended",
        )
        s.expect(
            "rating out of range", "POST", "reviews/", 400, {"theme": theme_id, "rating": 6}, token=self.customer_token
        )
        listed = s.expect("a theme's reviews", "GET", f"themes/{theme_id}/reviews/", 200).body or {}
        s.check("reviews list has the envelope", {"next", "previous", "results"} <= set(listed))
        s.expect("reviews of an unknown theme", "GET", "themes/999999999/reviews/", 404)

    def cancellations(self) -> None:
        s = self.s
        booking_id, slot_id = self.booking.get("id"), self.slot.get("id")
        cancelled = (
            s.expect("cancel my booking", "POST", f"bookings/{booking_id}/cancel/", 200, token=self.customer_token).body
            or {}
        )
        s.check("booking cancelled", cancelled.get("status") == "cancelled", repr(cancelled.get("status")))
        s.code(
            "cancel again",
            s.expect("cancel again", "POST", f"bookings/{booking_id}/cancel/", 409, token=self.customer_token),
            "not_cancellable",
        )
        seats = (s.request("GET", f"slots/{slot_id}/").body or {}).get("seats_left")
        s.check("cancelling frees the seats", seats == 6, repr(seats))

        bulk_slot = self.bulk_slot.get("id")
        held = (
            s.expect(
                "join a scheduled slot",
                "POST",
                f"slots/{bulk_slot}/join/",
                201,
                {"party_size": 2},
                token=self.other_token,
            ).body
            or {}
        )
        s.expect("customer cannot cancel a slot", "POST", f"slots/{bulk_slot}/cancel/", 403, token=self.customer_token)
        s.expect("owner cancels the slot", "POST", f"slots/{bulk_slot}/cancel/", 200, token=self.owner_token)
        after = s.request("GET", f"bookings/{held.get('id')}/", token=self.other_token).body or {}
        s.check("slot cancel cancels its bookings", after.get("status") == "cancelled", repr(after.get("status")))
        s.code(
            "join a cancelled slot",
            s.expect("join a cancelled slot", "POST", f"slots/{bulk_slot}/join/", 409, {}, token=self.customer_token),
            "slot_closed",
        )

        pricey = self.pricey_theme.get("id")
        s.expect("customer cannot delete a theme", "DELETE", f"themes/{pricey}/", 403, token=self.customer_token)
        s.expect("owner deletes (deactivates) a theme", "DELETE", f"themes/{pricey}/", 204, token=self.owner_token)
        s.check(
            "deactivated theme leaves the catalog",
            pricey not in ids(s.request("GET", f"themes/?merchant={self.merchant_id}")),
        )
        s.expect("deactivated theme is hidden from the public", "GET", f"themes/{pricey}/", 404)
        kept = s.expect("its owner still sees it", "GET", f"themes/{pricey}/", 200, token=self.owner_token).body or {}
        s.check("kept, inactive", kept.get("is_active") is False, repr(kept.get("is_active")))

    # --- Concurrency across workers -------------------------------------------------------
    def crowd_join(self) -> None:
        s = self.s
        if self.crowd <= 0:
            return
        tokens = []
        for i in range(self.crowd):
            self.register(f"crowd{i}", f"Crowd {i}")
            tokens.append(self.login(self.email(f"crowd{i}")).get("access", ""))
        slot_id = self.crowd_slot.get("id")
        barrier = threading.Barrier(len(tokens))
        statuses: list[int] = []
        codes: list[str] = []

        def join(token: str) -> None:
            barrier.wait()
            reply = s.request("POST", f"slots/{slot_id}/join/", {"party_size": 1}, token=token)
            with s.lock:
                statuses.append(reply.status)
                if isinstance(reply.body, dict) and reply.body.get("code"):
                    codes.append(reply.body["code"])

        threads = [threading.Thread(target=join, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wins, full = statuses.count(201), codes.count("slot_full")
        s.check(
            f"{len(tokens)} concurrent joins of a capacity-5 slot: exactly 5 win, the rest 409 slot_full",
            wins == 5 and full == len(tokens) - 5 and statuses.count(409) == len(tokens) - 5,
            f"statuses {sorted(statuses)}",
        )
        seats = (s.request("GET", f"slots/{slot_id}/").body or {}).get("seats_left")
        s.check("seats_left is 0, never negative", seats == 0, repr(seats))

    def throttling(self) -> None:
        s = self.s
        victim = self.email("other")
        replies = [
            s.request("POST", "auth/token/", {"email": victim, "password": "wrong-password-x"}) for _ in range(8)
        ]
        statuses = [reply.status for reply in replies]
        s.check("repeated wrong passwords end in 429", statuses[-1] == 429 and 401 in statuses, repr(statuses))
        right = s.request("POST", "auth/token/", {"email": victim, "password": PASSWORD})
        s.check("during the lockout the right password is refused too", right.status == 429, repr(right.status))

    def walk(self) -> None:
        for step in (
            self.conventions,
            self.auth,
            self.merchants,
            self.themes,
            self.slots,
            self.catalog,
            self.bookings,
            self.attendance,
            self.reviews,
            self.cancellations,
            self.crowd_join,
            self.throttling,
        ):
            print(f"--- {step.__name__}")
            step()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--admin-email", required=True)
    parser.add_argument("--admin-password", required=True)
    parser.add_argument("--crowd", type=int, default=20, help="customers joining one capacity-5 slot at once")
    args = parser.parse_args()
    smoke = Smoke(args.base_url)
    Walk(smoke, args.admin_email, args.admin_password, args.crowd).walk()
    print(f"\n{smoke.passed} checks passed, {len(smoke.failed)} failed")
    for label in smoke.failed:
        print(f"  FAILED: {label}")
    return 1 if smoke.failed else 0


if __name__ == "__main__":
    sys.exit(main())
