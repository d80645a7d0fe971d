"""Read replica routing: catalog reads to the replica, everything else to the primary.

Active only when `DATABASE_REPLICA_URL` is set (settings then define `DATABASES["replica"]`,
`DATABASE_ROUTERS` and `ReadYourWritesMiddleware`). The rules, in order:

1. Writes always go to the primary (`default`).
2. Reads of a model outside `REPLICA_MODELS` go to the primary: bookings, payments, users...
   Seat counts are sums over bookings, so they are never read from the replica.
3. Inside a transaction on the primary (`transaction.atomic()`), every read goes to the
   primary: a booking join locks the slot and counts seats there, and a row read in a
   transaction must come from the transaction's own connection. (`select_for_update()`
   querysets are also "for write" in Django, so they reach `db_for_write`.)
4. A request that writes (any method but GET/HEAD/OPTIONS, or a model saved or deleted
   during it) reads from the primary for the rest of the request; the user (or the browser,
   by cookie) then reads from the primary for `REPLICA_STICKY_SECONDS` (read-your-writes).
5. A model instance loaded from the primary keeps its related reads on the primary.
6. Outside an HTTP request (Celery tasks, management commands, the shell) every read goes to
   the primary: a task queued after a commit must find the rows that commit wrote.
7. Otherwise reads of `REPLICA_MODELS` (themes, slots, theme photos: the catalog, theme and
   slot pages and API lists) go to the replica, which may lag by a moment.

The kernel imports no app: models are named by their lower-case label.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest, HttpResponse

PRIMARY = "default"
REPLICA = "replica"
REPLICA_MODELS = frozenset({"catalog.theme", "catalog.slot", "catalog.themephoto"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Cookie (browsers, anonymous included) and cache key (API clients with a token) of the window.
STICKY_COOKIE = "bw_primary"
STICKY_KEY = "db:primary-until:user:{}"


@dataclass
class _RequestState:
    request: HttpRequest | None
    primary: bool = False  # decided: this request reads from the primary
    wrote: bool = False
    user_checked: bool = False


_state: ContextVar[_RequestState | None] = ContextVar("bookwise_db_request", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def use_primary() -> None:
    """From now on, this request reads from the primary (outside a request, reads already do)."""
    state = _state.get()
    if state is not None:
        state.primary = True


def _user_is_sticky(state: _RequestState) -> bool:
    """Whether the request's user wrote within the window (looked up once per request).

    The user is known only once authenticated: DRF sets `request.user` on the Django
    request when it authenticates a token; session users come from the middleware.
    """
    if state.user_checked or state.request is None:
        return False
    user = state.request.__dict__.get("user")
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    state.user_checked = True
    return bool(cache.get(STICKY_KEY.format(user.pk)))


class ReplicaRouter:
    """`DATABASE_ROUTERS` entry; see the module docstring for the rules."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if not replica_configured():
            return None
        if model._meta.label_lower not in REPLICA_MODELS:
            return PRIMARY
        if connections[PRIMARY].in_atomic_block:
            return PRIMARY
        instance = hints.get("instance")
        if instance is not None and instance._state.db == PRIMARY:
            return PRIMARY
        state = _state.get()
        if state is None or state.primary or state.wrote:
            return PRIMARY
        if _user_is_sticky(state):
            state.primary = True
            return PRIMARY
        return REPLICA

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return PRIMARY if replica_configured() else None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica is a copy of the primary: rows of both are the same rows.
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return db != REPLICA


def _note_write(sender: type[Any], **kwargs: Any) -> None:
    state = _state.get()
    if state is not None and kwargs.get("using", PRIMARY) == PRIMARY:
        state.wrote = True


class ReadYourWritesMiddleware:
    """Marks a request that writes, and its user for `REPLICA_STICKY_SECONDS` afterwards.

    Placed after the authentication middleware. Used only with a replica configured.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.window = int(settings.REPLICA_STICKY_SECONDS)
        post_save.connect(_note_write, dispatch_uid="bookwise.db_router.post_save")
        post_delete.connect(_note_write, dispatch_uid="bookwise.db_router.post_delete")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        until = request.COOKIES.get(STICKY_COOKIE, "")
        sticky_cookie = until.isdigit() and int(until) > time.time()
        state = _RequestState(request=request, primary=request.method not in SAFE_METHODS or sticky_cookie)
        token = _state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _state.reset(token)
        if request.method not in SAFE_METHODS or state.wrote:
            self._mark(request, response)
        return response

    def _mark(self, request: HttpRequest, response: HttpResponse) -> None:
        until = int(time.time()) + self.window
        user = getattr(request, "user", None)
        if user is not None and getattr(user, "is_authenticated", False):
            cache.set(STICKY_KEY.format(user.pk), until, timeout=self.window)
        response.set_cookie(
            STICKY_COOKIE,
            str(until),
            max_age=self.window,
            httponly=True,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
