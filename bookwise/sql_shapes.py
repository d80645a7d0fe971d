"""Hot statements compiled once per process: the ORM writes the SQL, later calls only fill in values.

Building a queryset and compiling it to SQL is most of a hot request's CPU in Django (a join spent
a third of its CPU there: docs/perf/WHERE_THE_TIME_GOES.md), although the SQL of a given statement
never changes, only its values do. `values_rows(key, build, **values)` builds the queryset once per
process with stand-in values (sentinels), compiles it, remembers where each stand-in landed among
the statement's parameters, and from then on runs that SQL with the real values in those places.

The queryset stays the one source of truth; the SQL is Django's own. A statement is refused (an
ImproperlyConfigured at its first use, so in every test that runs it) unless each value reaches the
SQL unchanged as one or more plain parameters: a value the builder transforms (`now + delta`,
`city.upper()`), expands (an `IN` list) or that Django inlines into the SQL text would not be found.
Booleans and anything that changes the statement's shape belong in the key, not in `values`.

Only `.values()` querysets (rows as dicts, with the fields' database converters applied as
Django's ValuesIterable does). The connection is chosen as the queryset would choose it at run
time: the router's write database for `select_for_update`, its read database otherwise, so the
replica router's rules (read-your-writes, never a replica inside a transaction) still apply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.query import ValuesIterable
from django.db.transaction import TransactionManagementError

# Far from any real id or time, inside a 32-bit integer column's range (Django refuses out-of-range
# integers in lookups before they reach the SQL).
_INT_SENTINEL = 1_987_654_000
_DATETIME_SENTINEL = datetime(2203, 3, 7, 5, 11, 13, tzinfo=UTC)


def _sentinel(kind: type, i: int) -> Any:
    if kind is int:
        return _INT_SENTINEL + i
    if kind is datetime:
        return _DATETIME_SENTINEL + timedelta(microseconds=i + 1)
    if kind is str:
        return f"\x1fBookWise-Shape-{i}\x1f"  # mixed case: .lower() and .upper() both change it
    raise TypeError(f"sql_shapes values are int, str or aware datetime, not {kind.__name__}: put it in the key")


@dataclass(frozen=True)
class _Shape:
    sql: str
    params: tuple[Any, ...]
    places: tuple[tuple[int, str], ...]  # (parameter index, value name)
    kinds: tuple[tuple[str, type], ...]  # each value's type when compiled: later calls must match
    names: tuple[str, ...]
    converters: tuple[tuple[int, tuple[list[Any], Any]], ...]  # Django's: (column, (functions, expression))
    model: type[Model]
    for_update: bool


_shapes: dict[Hashable, _Shape] = {}
_compile_lock = threading.Lock()


def _check(key: Hashable, values: dict[str, Any], kinds: tuple[tuple[str, type], ...] | None = None) -> None:
    """Values the ORM would have converted or refused are refused here: the SQL takes them as they are."""
    for name, value in values.items():
        if isinstance(value, datetime) and value.tzinfo is None:
            raise TypeError(f"sql_shapes {key!r}: {name} is a naive datetime")
    if kinds is not None and (len(kinds) != len(values) or any(type(values.get(n)) is not k for n, k in kinds)):
        raise TypeError(f"sql_shapes {key!r}: values {sorted(values)} do not match the compiled {dict(kinds)}")


def _compile(key: Hashable, build: Callable[..., QuerySet[Any]], values: dict[str, Any]) -> _Shape:
    _check(key, values)
    sentinels = {name: _sentinel(type(value), i) for i, (name, value) in enumerate(values.items())}
    qs = build(**sentinels)
    if qs._iterable_class is not ValuesIterable:
        raise ImproperlyConfigured(f"sql_shapes {key!r}: the builder must return a .values() queryset")
    query = qs.query
    compiler = query.get_compiler(using=qs.db)
    sql, params = compiler.as_sql()
    places = tuple(
        (index, name)
        for index, param in enumerate(params)
        for name, stand_in in sentinels.items()
        if type(param) is type(stand_in) and param == stand_in
    )
    missing = set(sentinels) - {name for _, name in places}
    inlined = [name for name, stand_in in sentinels.items() if str(stand_in) in sql]
    if missing or inlined:
        raise ImproperlyConfigured(
            f"sql_shapes {key!r}: {sorted(missing or inlined)} did not reach the SQL as plain parameters "
            "(transformed, expanded or inlined): pass the value the ORM sends, or put it in the key"
        )
    names = (
        tuple(query.selected)
        if query.selected
        else (*query.extra_select, *query.values_select, *query.annotation_select)
    )
    fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
    return _Shape(
        sql=sql,
        params=tuple(params),
        places=places,
        kinds=tuple((name, type(value)) for name, value in values.items()),
        names=tuple(names),
        converters=tuple(compiler.get_converters(fields).items()),
        model=qs.model,
        for_update=bool(query.select_for_update),
    )


def values_rows(key: Hashable, build: Callable[..., QuerySet[Any]], **values: Any) -> list[dict[str, Any]]:
    """Rows of `build(**values)` (a `.values()` queryset), its SQL compiled once per process under `key`.

    `key` names the statement's shape: everything that changes its SQL and is not in `values`.
    """
    shape = _shapes.get(key)
    if shape is None:
        with _compile_lock:
            shape = _shapes.get(key) or _compile(key, build, values)
            _shapes[key] = shape
    _check(key, values, shape.kinds)
    params = list(shape.params)
    for index, name in shape.places:
        params[index] = values[name]
    alias = router.db_for_write(shape.model) if shape.for_update else router.db_for_read(shape.model)
    connection = connections[alias]
    if shape.for_update and connection.get_autocommit():
        raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        if shape.converters:
            # As SQLCompiler.apply_converters, with the connection this statement ran on.
            row = list(row)
            for column, (functions, expression) in shape.converters:
                for convert in functions:
                    row[column] = convert(row[column], expression, connection)
        out.append(dict(zip(shape.names, row, strict=True)))
    return out


def forget_shapes() -> None:
    """Drop every compiled statement (tests that change settings the SQL depends on)."""
    _shapes.clear()
