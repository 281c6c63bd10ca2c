"""Pieces of SQL written by hand, for the few hot statements the ORM costs more to build than
the database to run (the relay's batch, sockets opening: docs/decisions/0015)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def placeholders(values) -> str:
    """``%s, %s, …``: one per value (Django's cursors take %s on every backend)."""
    return ", ".join(["%s"] * len(values))


def quoted_names(db, model, *columns: str) -> list[str]:
    """The quoted ``columns`` of ``model``, then its table."""
    return [db.ops.quote_name(name) for name in (*columns, model._meta.db_table)]


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
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} FROM {db.ops.quote_name(table)}"
            f" WHERE {' AND '.join(conditions)}",
            params,
        )
        rows = cursor.fetchall()
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
