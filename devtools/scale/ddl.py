"""Indexes and constraints of the loaded tables: dropped before the COPY, recreated from the models after.

The DDL comes from the models (`schema_editor`, `Meta.indexes`, `Meta.constraints`,
the field indexes and foreign keys Django derives); `catalog_snapshot` reads what
PostgreSQL has, before and after, so the loader can prove nothing changed. Until a
load finishes its tables carry `LOAD_MARKER` as a comment: an interrupted load is
found (`interrupted_tables`) and redone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connection, models

LOAD_MARKER = "load_scale_data: load in progress (indexes dropped); run it again to finish"
FK_SUFFIX = "_fk_%(to_table)s_%(to_column)s"  # as Django's create_model names foreign keys


@dataclass(frozen=True)
class Artefact:
    """One droppable index or constraint of a loaded table, with the SQL that drops and recreates it."""

    table: str
    name: str
    create_sql: str
    drop_sql: str

    @property
    def is_foreign_key(self) -> bool:
        return " FOREIGN KEY " in self.create_sql

    @property
    def takes_exclusive_lock(self) -> bool:
        """ADD CONSTRAINT (UNIQUE, EXCLUDE) holds ACCESS EXCLUSIVE on the table while it builds."""
        return self.create_sql.startswith("ALTER TABLE") and not self.is_foreign_key


class IndexBuilder:
    """Runs CREATE INDEX / ADD CONSTRAINT statements on `workers` threads, each with its own connection.

    Statements are taken in submission order; a failure is raised by `wait()`
    (and on exit), after which nothing else starts.
    """

    def __init__(self, say: Callable[[str], None], workers: int) -> None:
        self.say = say
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="index-builder")
        self.futures: list[Future] = []
        self.failed = threading.Event()
        self.started: float | None = None
        self.finished: float | None = None
        self.running_pids: set[int] = set()

    def __enter__(self) -> IndexBuilder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            # Do not sit out a GiST build of minutes after a failure or Ctrl-C: cancel what runs.
            self.failed.set()
            self._cancel_running()
        self.pool.shutdown(wait=True, cancel_futures=True)
        if exc_type is None:
            self.wait()

    def submit(self, artefacts: list[Artefact], *, foreign_keys: bool = False) -> None:
        if self.started is None:
            self.started = time.monotonic()
        # ADD CONSTRAINT locks its table for the whole build (the slots' GiST exclusion index takes
        # minutes): queue it after the table's other indexes, or the other connection would wait for it.
        for a in sorted(artefacts, key=lambda a: a.takes_exclusive_lock):
            if a.is_foreign_key == foreign_keys:
                self.futures.append(self.pool.submit(self._run, a))

    def _run(self, artefact: Artefact) -> None:
        if self.failed.is_set():
            return
        try:
            t = time.monotonic()
            with connection.cursor() as cursor:
                pid = connection.connection.info.backend_pid
                self.running_pids.add(pid)
                cursor.execute("SET maintenance_work_mem = '1GB'")
                cursor.execute(artefact.create_sql)
                self.running_pids.discard(pid)
            self.say(f"    built {artefact.table}.{artefact.name} in {time.monotonic() - t:.1f} s")
        except BaseException:
            self.failed.set()
            raise
        finally:
            self.finished = time.monotonic()
            connection.close()

    def wait(self) -> None:
        for future in self.futures:
            future.result()

    def _cancel_running(self) -> None:
        try:
            with connection.cursor() as cursor:
                for pid in list(self.running_pids):
                    cursor.execute("SELECT pg_cancel_backend(%s)", [pid])
        except Exception:  # noqa: BLE001, S110 - best effort while another error propagates
            pass

    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - (self.started or time.monotonic())


def _unquote(name: object) -> str:
    return str(name).strip('"')


def catalog_snapshot(cursor, tables: list[str]) -> set[tuple[str, str, str, str]]:
    """Every index and constraint of `tables` with its definition, as PostgreSQL reports them."""
    cursor.execute(
        """
        SELECT 'index', c.relname, i.relname, pg_get_indexdef(i.oid)
          FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
         WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
        UNION ALL
        SELECT 'constraint', c.relname, co.conname, pg_get_constraintdef(co.oid)
          FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
         WHERE c.relname = ANY(%s) AND c.relnamespace = 'public'::regnamespace
        """,
        [tables, tables],
    )
    return set(cursor.fetchall())


def model_artefacts(
    model: type[models.Model], editor, existing: dict[str, set[str]]
) -> tuple[list[Artefact], list[Artefact]]:
    """The droppable indexes and constraints of a model, with the DDL Django derives for them.

    Foreign keys, field indexes (FK and ``_like`` indexes), field-level UNIQUE
    constraints, and every ``Meta.indexes`` / non-check ``Meta.constraints``.
    The primary key and check constraints stay. `existing` maps a table to the
    index and constraint names found in the database, plus ``"unique:<column>"``
    keys naming field-level UNIQUE constraints (PostgreSQL named those).
    Returns (present in the database, derived by Django but absent from it).
    """
    table = model._meta.db_table
    found = existing.get(table, set())
    out: list[Artefact] = []
    for fld in model._meta.local_fields:
        if fld.primary_key:
            continue
        if fld.remote_field and fld.db_constraint:
            name = _unquote(editor._fk_constraint_name(model, fld, FK_SUFFIX))
            out.append(
                Artefact(
                    table,
                    name,
                    str(editor._create_fk_sql(model, fld, FK_SUFFIX)),
                    str(editor._delete_fk_sql(model, name)),
                )
            )
        for stmt in editor._field_indexes_sql(model, fld):
            name = _unquote(stmt.parts["name"])
            out.append(Artefact(table, name, str(stmt), str(editor._delete_index_sql(model, name))))
        if fld.unique:
            db_name = next((n.split("=", 1)[1] for n in found if n.startswith(f"unique:{fld.column}=")), None)
            if db_name:
                out.append(
                    Artefact(
                        table,
                        db_name,
                        str(editor._create_unique_sql(model, [fld], name=db_name)),
                        str(editor._delete_unique_sql(model, db_name)),
                    )
                )
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.CheckConstraint):
            continue
        out.append(
            Artefact(
                table,
                constraint.name,
                str(constraint.create_sql(model, editor)),
                str(constraint.remove_sql(model, editor)),
            )
        )
    for index in model._meta.indexes:
        create, drop = str(index.create_sql(model, editor)), str(index.remove_sql(model, editor))
        out.append(Artefact(table, index.name, create, drop))
    return [a for a in out if a.name in found], [a for a in out if a.name not in found]


def existing_names(cursor, tables: list[str]) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {t: set() for t in tables}
    for _kind, table, name, _definition in catalog_snapshot(cursor, tables):
        names[table].add(name)
    cursor.execute(
        """
        SELECT c.relname, co.conname, a.attname
          FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = co.conkey[1]
         WHERE co.contype = 'u' AND cardinality(co.conkey) = 1 AND c.relname = ANY(%s)
           AND c.relnamespace = 'public'::regnamespace
        """,
        [tables],
    )
    for table, name, column in cursor.fetchall():
        names[table].add(f"unique:{column}={name}")
    return names


def interrupted_tables(cursor, tables: list[str]) -> list[str]:
    """The tables still marked by a load that did not finish."""
    cursor.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relname = ANY(%s) "
        "AND c.relnamespace = 'public'::regnamespace AND obj_description(c.oid, 'pg_class') = %s",
        [tables, LOAD_MARKER],
    )
    return sorted(row[0] for row in cursor.fetchall())


def mark_loading(cursor, tables: list[str]) -> None:
    """Mark the tables until their indexes are back, so an interrupted load is redone."""
    for table in tables:
        cursor.execute(f"COMMENT ON TABLE {connection.ops.quote_name(table)} IS %s", [LOAD_MARKER])


def unmark_loaded(cursor, tables: list[str]) -> None:
    for table in tables:
        cursor.execute(f"COMMENT ON TABLE {connection.ops.quote_name(table)} IS NULL")


def truncate(cursor, tables: list[str]) -> None:
    quoted = ", ".join(connection.ops.quote_name(t) for t in tables)
    # CASCADE also empties the tables that reference these (audit rows, refunds, tokens, admin log).
    cursor.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
