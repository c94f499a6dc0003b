"""Statements of the ingest path compiled once per connection and run on the driver's cursor: one
owner of that mechanism.

A Core statement costs tens of microseconds of Python on every execution even when its compiled
form is cached (building the cache key, binding parameters through generic machinery, the execution
context and result objects), and ``Connection.exec_driver_sql`` still spends about 40 µs of its own
around a driver call that takes 4. The ingest transaction of a lone event runs about ten statements,
so that overhead was most of its CPU. Here each statement keeps its declaration in Core (typed
tables from ``_tables.py``) and is compiled once per connection for that connection's dialect
(SQLite and PostgreSQL each get their own SQL and parameter style); each parameter's bind processor
and each result column's result processor is looked up once; then it runs on the DBAPI cursor of the
connection's transaction, so values are stored and read back exactly as a Core execution stores and
reads them.

* :class:`Prepared`: any Core statement (a read, an UPSERT, an INSERT ... RETURNING), run once or
  for many parameter sets;
* :class:`BulkInsert`: ``INSERT INTO table (columns...)`` for many rows given as tuples;
* :class:`InList`: ``SELECT ... WHERE key IN (values)`` for lists of any length;
* :class:`PreparedIn`: any statement over a list of values (the dispatcher's result writes:
  ``UPDATE ... WHERE id IN (...) RETURNING ...``), a :class:`Prepared` per list length.

Execution (:func:`_execute`) is the driver's cursor inside the caller's transaction (:func:`begin`
begins it the same way); nothing about durability changes. Two cases go through
``Connection.exec_driver_sql`` instead, as before: a connection with no transaction begun yet (Core
begins it, with the engine's ``begin`` hook), and a connection or engine with
``before_cursor_execute`` / ``after_cursor_execute`` listeners (tracing, the tests that count
statements), so whoever observes statements still sees every one. Errors are raised as SQLAlchemy
raises them (``sa.exc.IntegrityError``, ``OperationalError``, ...), and a lost connection is
invalidated as Core would.

The compiled forms are kept in the pooled connection's ``info`` dict, never in module state.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable

_UNSET: Any = object()


def _observed(conn: sa.Connection) -> bool:
    """Whether a listener wants to see each statement (then Core executes them)."""
    dispatch = conn.dispatch
    return bool(dispatch.before_cursor_execute or dispatch.after_cursor_execute)


def begin(conn: sa.Connection, sql: str) -> None:
    """Run the statement that begins a transaction (``BEGIN IMMEDIATE``), from the engine's
    ``begin`` hook, where Core has not yet marked the connection as in a transaction."""
    _execute(conn, sql, (), beginning=True)


def _execute(
    conn: sa.Connection,
    sql: str,
    params: Any,
    *,
    many: bool = False,
    fetch: bool = False,
    beginning: bool = False,
) -> tuple[list[Any], Any, int]:
    """Run driver SQL in the caller's transaction: the rows (``fetch``), the cursor's description
    and its rowcount."""
    if not (beginning or conn.in_transaction()) or _observed(conn):
        result = conn.exec_driver_sql(sql, params)
        description = result.cursor.description if result.returns_rows else None
        read: list[Any] = list(result.fetchall()) if fetch else []
        return read, description, result.rowcount
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            rows: list[Any] = list(cursor.fetchall()) if fetch else []
        except conn.dialect.loaded_dbapi.Error as error:
            disconnected = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
            if disconnected:
                conn.invalidate(error)
            raise sa.exc.DBAPIError.instance(
                sql,
                params,
                error,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=disconnected,
                dialect=conn.dialect,
            ) from error
        return rows, cursor.description, int(cursor.rowcount)
    finally:
        cursor.close()


def _record_type(keys: Sequence[str]) -> Any:
    """A named tuple of ``keys`` that reads like ``sa.Row``: by position, attribute and ``_mapping``."""
    base = namedtuple("Record", keys, rename=True)  # type: ignore[misc]
    return type("Record", (base,), {"__slots__": (), "_mapping": property(base._asdict)})


@dataclass(slots=True)
class _Compiled:
    """A :class:`Prepared` statement as compiled for one connection."""

    sql: str
    #: positional parameter styles: the name of each placeholder's parameter, in order
    order: tuple[str, ...] | None
    #: every parameter's value unless given (literal values of the statement; None)
    defaults: dict[str, Any]
    #: parameters without a value of their own: each execution must give them
    required: frozenset[str]
    #: parameter name -> its bind processor (only parameters that have one)
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]
    #: the statement's result columns (their types give the result processors)
    columns: tuple[Any, ...]
    #: the named tuple a row is made into (:func:`_record_type`)
    record: Any
    #: each result column's processor, looked up on the first fetch (they take the driver's
    #: column types from the cursor's description, as Core does); ``()`` when none needs one
    results: tuple[Callable[[Any], Any] | None, ...] | None = None


class Prepared:
    """A Core statement (``build(dialect)``, or the statement itself when it is the same on every
    dialect) compiled once per connection. Parameters are given by bind name (``sa.bindparam``);
    rows come back as named tuples (attribute access, like ``sa.Row``), their values processed as a
    Core execution processes them (``UTCDateTime``, ``JSON``, ``Boolean``)."""

    def __init__(self, statement: Executable | Callable[[sa.Dialect], Executable]) -> None:
        self._build: Callable[[sa.Dialect], Executable] = (
            (lambda _dialect: statement) if isinstance(statement, Executable) else statement
        )

    def statement(self, dialect: sa.Dialect) -> Executable:
        """The Core statement for ``dialect`` (the declaration; what a test compares against)."""
        return self._build(dialect)

    def _compiled(self, conn: sa.Connection) -> _Compiled:
        compiled = conn.info.get(self)
        if compiled is None:
            dialect = conn.dialect
            statement = self._build(dialect)
            form = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            # every parameter the SQL takes: given ones (None until given) and literal values
            defaults = form.construct_params(_check=False)
            required = frozenset(
                name for name in defaults if form.binds[name].required and form.binds[name].value is None
            )
            binds = tuple(
                (name, processor)
                for name in defaults
                if (processor := form.binds[name].type._cached_bind_processor(dialect)) is not None
            )
            columns = tuple(getattr(statement, "exported_columns", ()))
            order = tuple(form.positiontup or ()) if form.positional else None
            record = _record_type([c.key for c in columns])
            compiled = conn.info[self] = _Compiled(
                form.string, order, defaults, required, binds, columns, record
            )
        assert isinstance(compiled, _Compiled)
        return compiled

    @staticmethod
    def _params(compiled: _Compiled, given: Mapping[str, Any]) -> Any:
        if not compiled.required <= given.keys():
            raise KeyError(f"no value for the parameters {sorted(compiled.required - given.keys())}")
        values = {name: given.get(name, default) for name, default in compiled.defaults.items()}
        for name, process in compiled.binds:
            values[name] = process(values[name])
        if compiled.order is not None:
            return tuple(values[name] for name in compiled.order)
        return values

    def rows(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The statement's rows for ``params`` (named tuples of processed values)."""
        compiled = self._compiled(conn)
        if not compiled.columns:
            raise TypeError("the statement declares no result columns: execute() it")
        found, description, _ = _execute(conn, compiled.sql, self._params(compiled, params or {}), fetch=True)
        if compiled.results is None:
            dialect = conn.dialect
            results = tuple(
                column.type._cached_result_processor(dialect, described[1])
                for column, described in zip(compiled.columns, description or (), strict=True)
            )
            compiled.results = results if any(results) else ()
        make = compiled.record._make
        if not compiled.results:
            return [make(row) for row in found]
        processors = compiled.results
        return [
            make([v if p is None else p(v) for p, v in zip(processors, row, strict=True)]) for row in found
        ]

    def first(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first row, or ``None``."""
        found = self.rows(conn, params)
        return found[0] if found else None

    def execute(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run it once (a write); how many rows it changed."""
        compiled = self._compiled(conn)
        return _execute(conn, compiled.sql, self._params(compiled, params or {}))[2]

    def execute_many(self, conn: sa.Connection, params: Iterable[Mapping[str, Any]]) -> None:
        """Run it for each parameter set with one ``executemany`` (nothing for none)."""
        compiled = self._compiled(conn)
        batch = [self._params(compiled, values) for values in params]
        if batch:
            _execute(conn, compiled.sql, batch, many=True)


@dataclass(frozen=True, slots=True)
class _CompiledInsert:
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

    def _prepare(self, conn: sa.Connection, returning: str | None = None) -> _CompiledInsert:
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
            prepared = _CompiledInsert(
                compiled.string, compiled.positional, order, in_order, self.columns, tuple(processors)
            )
            info[key] = prepared
        assert isinstance(prepared, _CompiledInsert)
        return prepared

    def execute(self, conn: sa.Connection, rows: Iterable[Sequence[Any]]) -> None:
        """Insert ``rows`` with one ``executemany`` (nothing happens for no rows)."""
        prepared = self._prepare(conn)
        params = _parameters(prepared, rows)
        if params:
            _execute(conn, prepared.sql, params, many=True)

    def insert_returning(self, conn: sa.Connection, row: Sequence[Any], column: str) -> Any:
        """Insert one row and return the value the database gave its ``column`` (``INSERT ...
        RETURNING``: SQLite >= 3.35 and PostgreSQL), in one statement instead of an insert and a read."""
        prepared = self._prepare(conn, returning=column)
        [params] = _parameters(prepared, [row])
        [[value]] = _execute(conn, prepared.sql, params, fetch=True)[0]
        return value


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
        return _execute(conn, sql, params, fetch=True)[0]


class PreparedIn:
    """A Core statement over a list of values: ``build(binds)`` gets one bind parameter per value
    (``in_0``, ``in_1``, ...) to put in an ``IN``; a :class:`Prepared` per list length rounded up to
    a power of two (the list padded with its last value, which changes nothing an ``IN`` matches).
    Building and binding a Core ``IN`` over a few dozen ids cost more than the database's work on
    their rows."""

    def __init__(self, build: Callable[[list[BindParameter[Any]]], Executable]) -> None:
        self._build = build
        self._sizes: dict[int, Prepared] = {}

    def _prepared(self, values: Sequence[Any], params: Mapping[str, Any]) -> tuple[Prepared, dict[str, Any]]:
        size = 1 << (len(values) - 1).bit_length()
        prepared = self._sizes.get(size)
        if prepared is None:
            binds: list[BindParameter[Any]] = [sa.bindparam(f"in_{i}") for i in range(size)]
            prepared = self._sizes.setdefault(size, Prepared(self._build(binds)))
        given = dict(params)
        last = values[-1]
        for i in range(size):
            given[f"in_{i}"] = values[i] if i < len(values) else last
        return prepared, given

    def execute(self, conn: sa.Connection, values: Sequence[Any], params: Mapping[str, Any]) -> int:
        """Run it for ``values`` (a write without ``RETURNING``); how many rows it changed (0 for none)."""
        if not values:
            return 0
        prepared, given = self._prepared(values, params)
        return prepared.execute(conn, given)

    def rows(self, conn: sa.Connection, values: Sequence[Any], params: Mapping[str, Any]) -> list[Any]:
        """Its rows for ``values`` (a read, or a write with ``RETURNING``); none for no values."""
        if not values:
            return []
        prepared, given = self._prepared(values, params)
        return prepared.rows(conn, given)


def _parameters(prepared: _CompiledInsert, rows: Iterable[Sequence[Any]]) -> list[Any]:
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
