"""Queries compiled to SQL once, for the paths that run on every API request.

Django builds and compiles a queryset each time it is evaluated; for a query of one row that is
most of the request's work. A ``PreparedQuery`` compiles its queryset once per database
connection, from placeholder values, and then only runs the SQL with the values of each call,
turning rows into model instances (with ``select_related`` ones and annotations) or tuples the
way Django's own iterables do.

Only the values passed as placeholders may change between calls: anything else the builder reads
(the clock, settings) is frozen at the first compilation, so pass it as a placeholder too.

On PostgreSQL the SQL is also a prepared statement on the server: planning the list's query (its
stats are subqueries) cost the database three times what running it did. Django's own cursors bind
values in the client and never prepare; ``_statement_cursor`` binds them on the server, and
psycopg prepares a statement once per connection (``prepare_threshold``, see config/settings.py).

A ``PreparedInsert`` does the same for a row written on every call of a hot path (the proxy's
call record): the INSERT is compiled once per connection and each call only prepares the values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from weakref import WeakKeyDictionary

import orjson
from django.db import connections
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from django.db.models import Field, JSONField, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.query import get_related_populators
from django.db.models.sql.subqueries import InsertQuery


class Placeholder(str):
    """A string standing for a value given at run time; found again among the compiled parameters
    by identity (Django passes string values through to the SQL parameters unchanged)."""

    __slots__ = ()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: dict[str, tuple[int, ...]]  # placeholder name -> its positions among params
    converters: list[tuple[int, list, Any]]
    connection: Any  # the DatabaseWrapper converters are called with
    model: Any
    model_columns: tuple[int, int]
    init_list: list[str]
    related_populators: list
    annotation_col_map: dict[str, int]


_LONG_NUMBER = re.compile(r"\d{19}")


def _faster(converter: Callable) -> Callable:
    """A converter that gives the same values faster: JSON columns without a custom decoder are
    parsed by orjson (a list of a hundred connections parses two hundred documents), falling back
    to Django's own where the two could differ: what orjson refuses (NaN), and 19 digits or more
    in a row, which may be an integer beyond 64 bits (orjson would read it as a float)."""
    if getattr(converter, "__func__", None) is JSONField.from_db_value and converter.__self__.decoder is None:

        def from_db_value(value, expression, connection):
            if not isinstance(value, str) or _LONG_NUMBER.search(value):
                return converter(value, expression, connection)
            try:
                return orjson.loads(value)
            except orjson.JSONDecodeError:
                return converter(value, expression, connection)

        return from_db_value
    return converter


class _UtcTimestampLoader(BaseTzLoader):
    """Django's loader of ``timestamptz`` text, with the same values, many times faster for the
    usual text: Django sets the session's TimeZone to UTC, so values read
    ``2026-11-27 20:12:00.123456+00``, which ``datetime.fromisoformat`` parses in C, and a list
    reads the same ones again and again (two hundred per hundred connections). Anything else goes
    to Django's loader."""

    def load(self, data):
        text = bytes(data)
        if text.endswith(b"+00"):  # the wall-clock time is UTC's, as Django's loader keeps it
            value = _utc_timestamp(text, self.timezone)
            if value is not None:
                return value
        return super().load(data)


@lru_cache(maxsize=16_384)
def _utc_timestamp(text: bytes, timezone) -> datetime | None:
    try:
        return datetime.fromisoformat(text[:-3].decode()).replace(tzinfo=timezone)
    except ValueError:
        return None


@lru_cache
def _timestamp_loader(timezone) -> type[_UtcTimestampLoader]:
    return type("UtcTimestampLoader", (_UtcTimestampLoader,), {"timezone": timezone})


def _statement_cursor(connection):
    """A cursor of ``connection`` as ``connection.cursor()`` wraps it (queries logged and counted,
    errors translated); on PostgreSQL one that binds values on the server, so psycopg prepares
    the statement, and reads timestamps with ``_UtcTimestampLoader``."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
        cursor.adapters.register_loader(TIMESTAMPTZ_OID, _timestamp_loader(connection.timezone))
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


class PreparedQuery:
    """``build(**placeholders)`` returns the queryset, and every call gives each placeholder its
    value. A name in ``names`` stands for a string, compared with a field as is (``exact``); one in
    ``typed`` for a value of that field's type, given to ``build`` as an expression to compare
    with (``created_at__gte=placeholder``) and prepared for the database by that field."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *names: str,
        typed: dict[str, Field] | None = None,
        using: str = "default",
    ) -> None:
        self.build = build
        self.names = names
        self.typed = typed or {}
        self.using = using
        self._compiled: WeakKeyDictionary = WeakKeyDictionary()

    def _placeholders(self) -> tuple[dict[str, Placeholder], dict[str, Any]]:
        markers = {name: Placeholder(name) for name in (*self.names, *self.typed)}
        arguments: dict[str, Any] = dict(markers)
        for name, field in self.typed.items():
            arguments[name] = RawSQL("%s", (markers[name],), output_field=field)
        return markers, arguments

    def _compile(self) -> _Compiled:
        connection = connections[self.using]
        compiled = self._compiled.get(connection)
        if compiled is not None:
            return compiled
        markers, arguments = self._placeholders()
        compiler = self.build(**arguments).query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        slots = {}
        for name, marker in markers.items():
            slots[name] = tuple(index for index, param in enumerate(params) if param is marker)
            if not slots[name]:
                raise ValueError(f"placeholder {name!r} is not in the compiled query")
        select = compiler.select
        converters = {
            position: ([_faster(converter) for converter in convs], expression)
            for position, (convs, expression) in compiler.get_converters(
                [column[0] for column in select[: compiler.col_count]]
            ).items()
        }
        klass_info = compiler.klass_info
        model_columns = (0, 0)
        init_list: list[str] = []
        populators: list = []
        if klass_info is not None:
            fields = klass_info["select_fields"]
            model_columns = (fields[0], fields[-1] + 1)
            init_list = [column[0].target.attname for column in select[slice(*model_columns)]]
            populators = get_related_populators(klass_info, select, self.using)
        compiled = _Compiled(
            sql=sql,
            params=tuple(params),
            slots=slots,
            converters=[
                (position, convs, expression) for position, (convs, expression) in converters.items()
            ],
            connection=connection,
            model=klass_info["model"] if klass_info else None,
            model_columns=model_columns,
            init_list=init_list,
            related_populators=populators,
            annotation_col_map=dict(compiler.annotation_col_map or {}),
        )
        self._compiled[connection] = compiled
        return compiled

    def _rows(self, compiled: _Compiled, values: dict[str, Any]) -> list[list]:
        if values.keys() != compiled.slots.keys():
            raise TypeError(f"expected values for {sorted(compiled.slots)}, got {sorted(values)}")
        params = list(compiled.params)
        for name, positions in compiled.slots.items():
            field = self.typed.get(name)
            value = values[name]
            if field is not None:
                value = field.get_db_prep_value(value, compiled.connection)
            for position in positions:
                params[position] = value
        with _statement_cursor(compiled.connection) as cursor:
            cursor.execute(compiled.sql, params)
            rows = [list(row) for row in cursor.fetchall()]
        connection = compiled.connection
        for row in rows:
            for position, convs, expression in compiled.converters:
                value = row[position]
                for converter in convs:
                    value = converter(value, expression, connection)
                row[position] = value
        return rows

    def rows(self, **values: Any) -> list[list]:
        """The converted rows of a ``values_list`` queryset (or any), as lists."""
        return self._rows(self._compile(), values)

    def instances(self, **values: Any) -> list:
        """Model instances, as iterating the queryset would give them."""
        compiled = self._compile()
        start, end = compiled.model_columns
        instances = []
        for row in self._rows(compiled, values):
            obj = compiled.model.from_db(self.using, compiled.init_list, row[start:end])
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            for name, position in compiled.annotation_col_map.items():
                setattr(obj, name, row[position])
            instances.append(obj)
        return instances


class PreparedInsert:
    """``insert(obj)`` writes ``obj`` (an unsaved instance of ``model``) as ``obj.save()`` would,
    for a model without save() overrides or signal receivers that matter: the values of ``fields``
    prepared by each field, the rest left to the column defaults. The primary key is not read back.
    """

    def __init__(self, model: type[Model], *fields: str, using: str = "default") -> None:
        self.model = model
        self.fields = [model._meta.get_field(name) for name in fields]
        self.using = using
        self._sql: WeakKeyDictionary = WeakKeyDictionary()

    def _compile(self, connection) -> str:
        sql = self._sql.get(connection)
        if sql is None:
            query = InsertQuery(self.model)
            query.insert_values(self.fields, [self.model()])
            ((sql, _),) = query.get_compiler(using=self.using).as_sql()
            self._sql[connection] = sql
        return sql

    def insert(self, obj: Model) -> None:
        connection = connections[self.using]
        params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in self.fields]
        with connection.cursor() as cursor:
            cursor.execute(self._compile(connection), params)
