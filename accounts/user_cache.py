"""The API's authenticated user, cached for a few seconds so a request costs no user query.

`accounts.authentication.SessionJWTAuthentication` reads the user of a token
from the shared cache (Redis, failing open: bookwise.cache) under
`auth-user:<id>` and loads it from the database only on a miss, storing it for
`AUTH_USER_CACHE_SECONDS` (0 turns the cache off; at most the access-token
lifetime, checked in settings).

Revocation stays immediate:

- every `save()` and `delete()` of a user (admin, forms, services, password
  change and reset, `set_password`, deactivation) forgets the entry, at once
  and again once the transaction commits (a request that read the old row
  while the transaction was open cannot leave it cached past the commit);
- the services that write a user with `QuerySet.update()` forget it too
  (`accounts.feeds`);
- the authentication refuses a token only on the database's word: when the
  token's `cv` claim differs from the cached user's credentials version, the
  user is loaded again before deciding.

What bypasses Django entirely (raw SQL, `QuerySet.update()` elsewhere, a
`manage.py dbshell` session) is seen within `AUTH_USER_CACHE_SECONDS` at most,
when the entry expires.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from accounts.models import User

KEY_FORMAT = "auth-user:{}"


def _key(user_id: Any) -> str:
    return KEY_FORMAT.format(user_id)


def user_cache_seconds() -> int:
    return int(getattr(settings, "AUTH_USER_CACHE_SECONDS", 0))


def user_cached(user_id: Any) -> User | None:
    """The cached user with this id, or None (cache off, miss, or Redis unreachable and nothing in the fallback)."""
    if user_cache_seconds() <= 0:
        return None
    user = cache.get(_key(user_id))
    return user if isinstance(user, User) else None


def user_cache_store(user: User) -> None:
    """Cache a user just loaded from the database (no related objects or permission caches on it yet)."""
    seconds = user_cache_seconds()
    if seconds > 0:
        cache.set(_key(user.pk), user, seconds)


def user_cache_forget(user_id: Any) -> None:
    """Drop a user's entry now and again after the current transaction commits (immediately outside one)."""
    key = _key(user_id)
    cache.delete(key)
    if transaction.get_connection().in_atomic_block:

        def forget_user_cache_entry() -> None:  # named: tests of on-commit work tell it from emails and tasks
            cache.delete(key)

        transaction.on_commit(forget_user_cache_entry)


def forget_saved_user(sender: type[User], instance: User, **kwargs: Any) -> None:
    """post_save / post_delete receiver (connected in AccountsConfig.ready)."""
    if instance.pk is not None:
        user_cache_forget(instance.pk)
