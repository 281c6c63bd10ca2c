"""Pieces of SQL written by hand, for the few hot statements the ORM costs more to build than
the database to run (the relay's batch, sockets opening: docs/decisions/0015)."""

from __future__ import annotations


def placeholders(values) -> str:
    """``%s, %s, …``: one per value (Django's cursors take %s on every backend)."""
    return ", ".join(["%s"] * len(values))


def quoted_names(db, model, *columns: str) -> list[str]:
    """The quoted ``columns`` of ``model``, then its table."""
    return [db.ops.quote_name(name) for name in (*columns, model._meta.db_table)]
