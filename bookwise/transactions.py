"""Locks stated in code: services that need their caller's transaction say so with `require_atomic()`.

A service whose docstring says "caller holds the slot lock" is only correct
inside the caller's `transaction.atomic()` block: a row lock taken outside
one is released at once (autocommit). `require_atomic()` at the top of such a
service turns a forgotten block into an immediate error instead of a race.
"""

from __future__ import annotations

from django.db import connections


class NotInTransaction(RuntimeError):
    """A service that relies on its caller's transaction (and row locks) was called outside one."""


def require_atomic(using: str = "default") -> None:
    """Raise NotInTransaction unless the current code runs inside `transaction.atomic()`."""
    if not connections[using].in_atomic_block:
        raise NotInTransaction(
            "This service must run inside transaction.atomic(): its caller holds the row locks it relies on."
        )
