"""HTTP: the virtual users' clients (httpx or aiohttp), one connection each, and the timed request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

try:
    import aiohttp
except ImportError:  # optional: only for --client aiohttp
    aiohttp = None
from devtools.loadbench.common import LOCAL_HOSTS, SetupError
from devtools.loadbench.stats import Recorder


def check_local(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or (parts.hostname or "") not in LOCAL_HOSTS:
        raise SetupError(f"{url}: only http://127.0.0.1 / localhost targets are allowed")
    return url.rstrip("/")


def new_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    # One connection per virtual user: keep-alive when the server keeps it (gthread),
    # a new connection per request with gunicorn's sync workers (they always close).
    return httpx.AsyncClient(
        base_url=base_url,
        http1=True,
        http2=False,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        headers={"Accept": "application/json", "User-Agent": "bookwise-loadbench"},
        trust_env=False,  # never through a proxy
        follow_redirects=False,
    )


def bearer(token: str | None) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {token}"} if token else None


@dataclass
class Reply:
    """The part of a response the benchmark reads, whichever HTTP client fetched it."""

    status_code: int
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class HttpxUser:
    """A virtual user's HTTP client: one httpx.AsyncClient, one connection."""

    errors: tuple[type[BaseException], ...] = (httpx.HTTPError,)

    def __init__(self, base_url: str, timeout: float) -> None:
        self.client = new_client(base_url, timeout)

    async def request(
        self, method: str, path: str, *, params: dict | None, json_body: dict | None, headers: dict | None
    ) -> Reply:
        resp = await self.client.request(method, path, params=params, json=json_body, headers=headers)
        return Reply(resp.status_code, resp.content)

    async def aclose(self) -> None:
        await self.client.aclose()


class AiohttpUser:
    """The same with aiohttp (--client aiohttp): about a quarter of httpx's CPU per request."""

    def __init__(self, base_url: str, timeout: float) -> None:
        if aiohttp is None:
            raise SetupError("--client aiohttp needs aiohttp (requirements-dev.txt)")
        self.errors = (aiohttp.ClientError, asyncio.TimeoutError)
        self.session = aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"Accept": "application/json", "User-Agent": "bookwise-loadbench"},
            trust_env=False,  # never through a proxy
        )

    async def request(
        self, method: str, path: str, *, params: dict | None, json_body: dict | None, headers: dict | None
    ) -> Reply:
        async with self.session.request(
            method, path, params=params, json=json_body, headers=headers, allow_redirects=False
        ) as resp:
            return Reply(resp.status, await resp.read())

    async def aclose(self) -> None:
        await self.session.close()


VuClient = HttpxUser | AiohttpUser
CLIENTS: dict[str, Callable[[str, float], VuClient]] = {"httpx": HttpxUser, "aiohttp": AiohttpUser}


def error_code(resp: Reply) -> str | None:
    if resp.status_code < 400:
        return None
    with contextlib.suppress(ValueError, AttributeError):
        body = resp.json()
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"]
    return None


async def timed(
    rec: Recorder,
    client: VuClient,
    endpoint: str,
    method: str,
    path: str,
    *,
    token: str | None = None,
    params: dict | None = None,
    json_body: dict | None = None,
) -> Reply | None:
    """One request, recorded under `endpoint`; latency includes reading the whole body."""
    started = time.perf_counter()
    try:
        resp = await client.request(method, path, params=params, json_body=json_body, headers=bearer(token))
    except client.errors as exc:
        rec.record(endpoint, started, time.perf_counter(), None, detail=type(exc).__name__)
        return None
    ended = time.perf_counter()
    code = error_code(resp)
    detail = "" if resp.is_success else f"{method} {path} -> {resp.text[:160]}"
    rec.record(endpoint, started, ended, resp.status_code, code=code, detail=detail)
    return resp
