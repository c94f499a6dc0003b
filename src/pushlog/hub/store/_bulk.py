"""Bulk statements for the ingest path: one driver-level ``executemany`` per table and batch, and
reads of the rows whose key is in a list (:class:`InList`).

``conn.execute(table.insert(), rows)`` is convenient but spends most of its time in SQLAlchemy's
per-row work (building parameter dicts, running every column's bind processor through generic
machinery, and on SQLite with ``RETURNING`` even one statement per row). A :class:`BulkInsert`
compiles its Core ``INSERT`` once per connection (for that connection's dialect, so SQLite and
PostgreSQL each get their own SQL and parameter style), looks up each column's bind processor once,
and then hands the driver plain tuples (or dicts, for named parameter styles) through
``Connection.exec_driver_sql``. Values go through the same bind processors SQLAlchemy would use
(``UTCDateTime``, ``JSON``, ``Boolean``), so what is stored is byte for byte what a Core insert
stores. Everything runs inside the caller's transaction; nothing about durability changes.

The compiled form is kept in the pooled connection's ``info`` dict, not in module state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class _Prepared:
    sql: str
    positional: bool
    order: tuple[int, ...]  # for positional styles: column index of each placeholder
    in_order: bool  # positional with placeholders in column order: rows go to the driver as they are
    names: tuple[str, ...]
    # (column index, bind processor, whether it maps None to None and can be skipped for it)
    processors: tuple[tuple[int, Callable[[Any], Any], bool], ...]


class BulkInsert:
    """``INSERT INTO table (columns...)`` for many rows; rows are tuples in ``columns`` order."""

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        self.table = table
        self.columns = tuple(columns)
        self._key = ("pushlog.bulk", table.name, self.columns)

    def _prepare(self, conn: sa.Connection, returning: str | None = None) -> _Prepared:
        info = conn.info
        key = self._key if returning is None else (*self._key, returning)
        prepared = info.get(key)
        if prepared is None:
            dialect = conn.dialect
            statement = self.table.insert().values({name: sa.bindparam(name) for name in self.columns})
            if returning is not None:
                statement = statement.returning(self.table.c[returning])
            compiled = statement.compile(dialect=dialect)
            index = {name: i for i, name in enumerate(self.columns)}
            order = tuple(index[name] for name in compiled.positiontup or ()) if compiled.positional else ()
            processors = []
            for i, name in enumerate(self.columns):
                processor = self.table.c[name].type._cached_bind_processor(dialect)
                if processor is not None:
                    processors.append((i, processor, processor(None) is None))
            in_order = compiled.positional and order == tuple(range(len(self.columns)))
            prepared = _Prepared(
                compiled.string, compiled.positional, order, in_order, self.columns, tuple(processors)
            )
            info[key] = prepared
        assert isinstance(prepared, _Prepared)
        return prepared

    def execute(self, conn: sa.Connection, rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` with one ``executemany`` (nothing happens for no rows)."""
        prepared = self._prepare(conn)
        params = _parameters(prepared, rows)
        if params:
            conn.exec_driver_sql(prepared.sql, params)

    def insert_returning(self, conn: sa.Connection, row: Sequence[Any], column: str) -> Any:
        """Insert one row and return the value the database gave its ``column`` (``INSERT ...
        RETURNING``: SQLite >= 3.35 and PostgreSQL), in one statement instead of an insert and a read."""
        prepared = self._prepare(conn, returning=column)
        [params] = _parameters(prepared, [row])
        return conn.exec_driver_sql(prepared.sql, params).scalar_one()


class InList:
    """``SELECT columns FROM table WHERE key IN (values)`` through the driver, for plain values (the
    key column has no bind processor; results come back as the driver gives them). A Core
    ``IN`` with an expanding parameter renders and binds the list on every execution; this
    compiles the statement once per connection and list length, rounded up to a power of two (the
    list padded with its last value, which changes nothing an ``IN`` matches), so a handful of
    statements serve every batch size."""

    def __init__(self, table: sa.Table, columns: Sequence[str], key: str) -> None:
        self.table = table
        self.columns = tuple(columns)
        self.key = key

    def rows(self, conn: sa.Connection, values: Sequence[Any]) -> list[Any]:
        """The matching rows (tuples in ``columns`` order); none for no values."""
        if not values:
            return []
        size = 1 << (len(values) - 1).bit_length()
        cache_key = ("pushlog.in", self.table.name, self.columns, self.key, size)
        prepared = conn.info.get(cache_key)
        if prepared is None:
            names = [f"v{i}" for i in range(size)]
            statement = sa.select(*(self.table.c[c] for c in self.columns)).where(
                self.table.c[self.key].in_([sa.bindparam(name) for name in names])
            )
            compiled = statement.compile(dialect=conn.dialect)
            prepared = conn.info[cache_key] = (compiled.string, compiled.positional, names)
        sql, positional, names = prepared
        padded = [*values, *[values[-1]] * (size - len(values))]
        params = tuple(padded) if positional else dict(zip(names, padded, strict=True))
        return list(conn.exec_driver_sql(sql, params).fetchall())


def _parameters(prepared: _Prepared, rows: Iterable[Sequence[Any]]) -> list[Any]:
    """The driver's parameters for ``rows``: each value through its column's bind processor."""
    processors = prepared.processors
    # The same object in a column of consecutive rows (the batch's receive time, key id) is
    # processed once: remember the last input and output per column.
    last_in: list[Any] = [_UNSET] * len(prepared.names)
    last_out: list[Any] = [None] * len(prepared.names)
    params: list[Any] = []
    for row in rows:
        if processors:
            values = list(row)
            for i, process, none_is_none in processors:
                value = values[i]
                if value is None and none_is_none:
                    continue
                if value is last_in[i]:
                    values[i] = last_out[i]
                else:
                    values[i] = last_out[i] = process(value)
                    last_in[i] = value
        else:
            values = row  # type: ignore[assignment]
        if prepared.in_order:
            params.append(tuple(values))
        elif prepared.positional:
            params.append(tuple(values[i] for i in prepared.order))
        else:
            params.append(dict(zip(prepared.names, values, strict=True)))
    return params
