"""Pieces of SQL written by hand, for the few hot statements the ORM costs more to build than
the database to run (the relay's batch, sockets opening: docs/decisions/0015, 0017)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models.fields import AutoFieldMixin


def placeholders(values) -> str:
    """``%s, %s, …``: one per value (Django's cursors take %s on every backend)."""
    return ", ".join(["%s"] * len(values))


def quoted_names(db, model, *columns: str) -> list[str]:
    """The quoted ``columns`` of ``model``, then its table."""
    return [db.ops.quote_name(name) for name in (*columns, model._meta.db_table)]


def cursor(db):
    """A cursor for these statements, written with ``%s`` placeholders as for Django's cursors.

    Django's cursor wrapper costs about 30 µs a statement (its wrappers, its checks, SQLite's
    placeholder rewriting), as much as running one of these; the database's own cursor costs
    3. So while nobody watches the queries (``DEBUG``, a test capturing them, an execute
    wrapper) this is the driver's cursor, raising Django's exceptions as Django's does — the
    relay tells a failing database from a failing record by them, and a connection that
    failed is replaced as after any other failed query. Otherwise it is Django's cursor."""
    if db.queries_logged or db.execute_wrappers:
        return db.cursor()
    db.ensure_connection()
    return _DriverCursor(db)


class _DriverCursor:
    __slots__ = ("_cursor", "_db", "_qmark")

    def __init__(self, db):
        self._db = db
        with db.wrap_database_errors:
            self._cursor = db.connection.cursor()
        self._qmark = db.Database.paramstyle == "qmark"  # SQLite's `?`

    def execute(self, sql: str, params: Sequence[Any]) -> None:
        with self._db.wrap_database_errors:
            self._cursor.execute(_qmarks(sql) if self._qmark else sql, params)

    def fetchall(self) -> list[tuple]:
        with self._db.wrap_database_errors:
            return self._cursor.fetchall()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._cursor.close()
        except self._db.Database.Error:  # as Django's: never hide the error being raised
            pass


@functools.lru_cache(maxsize=1024)  # the same few statements, by batch and IN-list sizes
def _qmarks(sql: str) -> str:
    """``%s`` as SQLite's ``?`` and ``%%`` as ``%``, as Django's SQLite cursor rewrites them."""
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


# Fields whose preparation gives back a value of this type unchanged (and None as None): most
# of a row's values need no preparing at all. Integers only where the backend does not wrap
# them (PostgreSQL's psycopg 3 binds a BigIntegerField's as Int8; an auto id is not wrapped).
_PLAIN = ((models.CharField, str), (models.TextField, str), (models.BooleanField, bool),
          (models.IntegerField, int))  # fmt: skip
# Django's own preparation methods for those: a subclass that prepares values its own way (a
# field that encrypts, say) is prepared by its methods.
_DJANGOS = {
    models.Field.get_db_prep_save,
    models.Field.get_db_prep_value,
    models.IntegerField.get_db_prep_value,
    AutoFieldMixin.get_db_prep_value,
    *(kind.get_prep_value for kind, _ in _PLAIN),
    *(kind.to_python for kind, _ in _PLAIN),  # what get_prep_value calls
}


def _plain_type(field, ops) -> type | None:
    """The type whose values ``field`` prepares unchanged for a backend with ``ops``, if any."""
    if field.many_to_one:  # a foreign key's value is its target's
        field = field.target_field
    own = type(field)
    if {own.get_db_prep_save, own.get_db_prep_value, own.get_prep_value, own.to_python} - _DJANGOS:
        return None
    if (
        own.get_db_prep_value is models.IntegerField.get_db_prep_value
        and ops.adapt_integerfield_value is not BaseDatabaseOperations.adapt_integerfield_value
    ):
        return None
    return next((kind for fields, kind in _PLAIN if isinstance(field, fields)), None)


@functools.cache
def _row_plan(ops: type, fields: tuple) -> tuple:
    return tuple((f.attname, _plain_type(f, ops), f.get_db_prep_save) for f in fields)


def row_preparer(db, fields: tuple) -> Callable[[models.Model], list[Any]]:
    """A function giving an instance's values for ``fields``, each as ``field.get_db_prep_save``
    gives it (what the ORM's INSERT sends), without calling it for a string, integer or boolean
    that it would give back unchanged: preparing every field was about a third of a relay
    record's cost."""
    plan = _row_plan(type(db.ops), fields)

    def values(instance: models.Model) -> list[Any]:
        prepared = []
        for attname, plain, prepare in plan:
            value = getattr(instance, attname)
            if plain is not None and (value is None or type(value) is plain):
                prepared.append(value)
            else:
                prepared.append(prepare(value, db))
        return prepared

    return values


def rows_where_in(model, names: Sequence[str], **where_in: Sequence[Any]) -> list[tuple]:
    """``SELECT names FROM model's table WHERE field IN (values) AND …`` for each field and
    values of ``where_in`` (fields by name; ``pk`` is the primary key), every value prepared
    and every column read converted as the ORM does for each backend (SQLite's datetimes and
    booleans, JSON, a field's ``from_db_value``)."""
    if not all(where_in.values()):
        return []  # nothing is IN an empty list (and `IN ()` is not SQL everywhere)
    db = connections[DEFAULT_DB_ALIAS]
    table = model._meta.db_table
    fields = [_field(model, name) for name in names]
    columns = quoted_names(db, model, *(field.column for field in fields))[:-1]
    conditions, params = [], []
    for name, values in where_in.items():
        field = _field(model, name)
        values = [field.get_db_prep_value(value, db) for value in values]
        conditions.append(f"{db.ops.quote_name(field.column)} IN ({placeholders(values)})")
        params.extend(values)
    with cursor(db) as statements:
        statements.execute(
            f"SELECT {', '.join(columns)} FROM {db.ops.quote_name(table)}"
            f" WHERE {' AND '.join(conditions)}",
            params,
        )
        rows = statements.fetchall()
    converting = []  # (position, column, converters) of the columns that need any
    for at, field in enumerate(fields):
        column = field.get_col(table)
        found = [*db.ops.get_db_converters(column), *column.get_db_converters(db)]
        if found:
            converting.append((at, column, found))
    if not converting:
        return rows
    converted = []
    for row in rows:
        row = list(row)
        for at, column, found in converting:
            for convert in found:
                row[at] = convert(row[at], column, db)
        converted.append(tuple(row))
    return converted


def _field(model, name: str):
    return model._meta.pk if name == "pk" else model._meta.get_field(name)
