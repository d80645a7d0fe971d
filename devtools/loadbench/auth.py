"""Accounts and tokens: log the generated users in before the measured window, cache their refresh tokens."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from devtools.loadbench.clients import new_client
from devtools.loadbench.common import API, SetupError, say
from devtools.loadbench.servers import bench_secret_key


@dataclass
class Account:
    user_id: int
    email: str
    access: str = ""
    refresh: str = ""

    @property
    def access_expires(self) -> float:
        try:
            payload = self.access.split(".")[1]
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return float(data["exp"])
        except (IndexError, ValueError, KeyError, TypeError):
            return 0.0


class TokenCache:
    """Refresh tokens by email, so a second run refreshes instead of hashing passwords again."""

    def __init__(self, path: Path | None, scope: str) -> None:
        self.path, self.scope = path, scope
        self.tokens: dict[str, str] = {}
        if path and path.is_file():
            with contextlib.suppress(ValueError, OSError):
                data = json.loads(path.read_text())
                if data.get("scope") == scope:
                    self.tokens = dict(data.get("tokens", {}))

    def save(self, accounts: list[Account]) -> None:
        if not self.path:
            return
        for acc in accounts:
            if acc.refresh:
                self.tokens[acc.email] = acc.refresh
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"scope": self.scope, "tokens": self.tokens}))
        tmp.chmod(0o600)  # live refresh tokens of the benchmark accounts
        tmp.replace(self.path)


async def _post_json(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    """POST with a bounded wait on 429 (the server's throttles were not raised enough)."""
    for _attempt in range(3):
        resp = await client.post(path, json=body)
        if resp.status_code != 429:
            return resp
        wait = min(float(resp.headers.get("Retry-After", "5") or 5), 30.0)
        await asyncio.sleep(wait)
    raise SetupError(f"{path} stays throttled (429): raise THROTTLE_LOGIN / THROTTLE_LOGIN_EMAIL / THROTTLE_REFRESH")


async def authenticate(
    base_urls: list[str],
    accounts: list[Account],
    *,
    password: str,
    cache: TokenCache,
    concurrency: int,
    timeout: float,
) -> None:
    """Give every account a fresh access token: refresh a cached token, else log in.

    `concurrency` workers, one client each, spread over the base URLs; progress every 10 s
    (a login costs a PBKDF2 hash, about half a second of server CPU).
    """
    queue: asyncio.Queue[Account] = asyncio.Queue()
    for acc in accounts:
        queue.put_nowait(acc)
    done = Counter()
    started = last = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal last
        while True:
            try:
                acc = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            cached = acc.refresh or cache.tokens.get(acc.email)
            resp = None
            if cached:
                resp = await _post_json(client, f"{API}/auth/token/refresh/", {"refresh": cached})
                done["refreshes" if resp.status_code == 200 else "stale tokens"] += 1
            if resp is None or resp.status_code != 200:
                resp = await _post_json(client, f"{API}/auth/token/", {"email": acc.email, "password": password})
                if resp.status_code != 200:
                    raise SetupError(f"login {acc.email}: {resp.status_code} {resp.text[:200]}")
                done["logins"] += 1
            body = resp.json()
            acc.access, acc.refresh = body["access"], body["refresh"]
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                say(f"  auth: {len(accounts) - queue.qsize()} of {len(accounts)} accounts ...")

    workers = max(1, min(concurrency, len(accounts)))
    clients = [new_client(base_urls[i % len(base_urls)], timeout) for i in range(workers)]
    try:
        await asyncio.gather(*(worker(c) for c in clients))
    finally:
        cache.save(accounts)
        await asyncio.gather(*(c.aclose() for c in clients))
    if done:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(done.items()))
        say(f"  auth: {counts} in {time.monotonic() - started:.1f} s")


async def keep_tokens_fresh(
    base_urls: list[str], accounts: list[Account], *, seconds: float, password: str, cache: TokenCache, timeout: float
) -> None:
    """Refresh (outside the measured window) every access token that would expire within `seconds`."""
    limit = time.time() + seconds + 30
    stale = [a for a in accounts if a.access_expires < limit]
    if stale:
        await authenticate(base_urls, stale, password=password, cache=cache, concurrency=8, timeout=timeout)


def token_scope(args: argparse.Namespace, base_url: str) -> str:
    """Cached refresh tokens are only good for the same database and signing key."""
    db = urlsplit(args.database_url).path.lstrip("/")
    signer = hashlib.sha256(bench_secret_key().encode()).hexdigest()[:16] if args.start_gunicorn else base_url
    return f"{db}|{signer}"
