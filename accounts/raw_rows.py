"""Hot-path statements written out from the models, read and written as the ORM would.

Compiling a queryset costs far more than running it: a two-table SELECT takes about
0.5 ms of Python to build and 0.15 ms at the database. The few reads that every SCIM
request or SAML sign-in makes are therefore written out from the models' metadata once
per process (identifiers only; every value stays a parameter), and their rows become
instances through each column's converters and `Model.from_db`, as the ORM's own
iterator loads them. Writes that go together in one statement (an audit event and its
directory events, accounts.events.outbox) build their INSERTs here too. Anything else
uses the ORM.
"""

import functools
import inspect
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quote(model._meta.db_table)


def column(model, field_name: str, alias: str = "") -> str:
    name = quote(model._meta.get_field(field_name).column)
    return f"{alias}.{name}" if alias else name


def _shape(model) -> tuple:
    """`(model, only)` for a model given alone or with the fields it is read with."""
    return model if isinstance(model, tuple) else (model, None)


@functools.cache
def _fields(model, only: tuple[str, ...] | None = None) -> tuple:
    """The model's concrete fields in field order, or only those named (with its primary
    key always), still in field order. Worked out once per process: a decision measures
    its rows' widths several times."""
    fields = model._meta.concrete_fields
    if only is None:
        return tuple(fields)
    unknown = set(only) - {field.name for field in fields}
    if unknown:
        raise ValueError(f"{model.__name__} has no columns {sorted(unknown)}.")
    return tuple(field for field in fields if field.name in only or field.primary_key)


def columns(model, alias: str) -> str:
    """Every concrete column of the model, in field order: what `instance` reads back.
    A `(model, only)` pair selects those fields' columns and the primary key's, the
    others deferred as QuerySet.only() defers them (read on first use, one query each);
    `width` and `instances` take the same pair."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in _fields(*_shape(model)))


def select_joined(
    model,
    alias: str,
    field_name: str,
    related_alias: str,
    *,
    outer: bool = False,
    extra="",
    related_only: tuple[str, ...] | None = None,
) -> str:
    """`SELECT` every column of `model` and of the row its foreign key `field_name` names
    (`extra` after them), `FROM` the model joined to that row (`LEFT JOIN` with `outer`,
    whose columns are then NULL without one): read back with `instances(row, [model,
    related model])`. A `(model, only)` pair, and `related_only` for the related model,
    select only those columns, as `columns` does. The caller adds the WHERE."""
    model_class, _ = _shape(model)
    field = model_class._meta.get_field(field_name)
    related = field.related_model
    related_shape = (related, related_only) if related_only is not None else related
    join = "LEFT JOIN" if outer else "JOIN"
    selected = f"{columns(model, alias)}, {columns(related_shape, related_alias)}"
    return (
        f"SELECT {selected}{', ' + extra if extra else ''} "  # noqa: S608
        f"FROM {table(model_class)} {alias} {join} {table(related)} {related_alias} "
        f"ON {related_alias}.{quote(field.target_field.column)} = {alias}.{quote(field.column)}"
    )


def width(model) -> int:
    """How many values of a row `columns` selects."""
    return len(_fields(*_shape(model)))


@functools.cache
def _converters(model, field, vendor: str) -> tuple:
    """The column expression and the converters the ORM applies to the field's values
    (from the backend and the field), worked out once per process: building them cost
    more than running them on every column of every hot-path row."""
    expression = field.get_col(model._meta.db_table)
    converters = (
        *connection.ops.get_db_converters(expression),
        *expression.get_db_converters(connection),
    )
    return expression, converters


@dataclass(frozen=True)
class _Loader:
    """How a row of `columns(model, …)` becomes an instance: the fields' names, where
    the primary key is, the converters of the columns that have any, and whether the
    values may go straight into the instance (`_plain`)."""

    attnames: list[str]
    pk_index: int
    steps: tuple[tuple[int, object, tuple], ...]
    plain: bool


# What a field's attribute may be on its class for `_plain`: reading it is the ORM's
# (a deferred load), and setting it on a new instance only stores the value.
PLAIN_ATTRIBUTES = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _plain(model) -> bool:
    """Whether `Model.from_db` would only store each value under its field's attname:
    neither the model nor any of its fields changes how an instance is made or a value
    set. Its pre_init and post_init signals are checked on every call (`_instance`)."""
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:
        return False
    return all(
        isinstance(inspect.getattr_static(model, field.attname, None), PLAIN_ATTRIBUTES)
        for field in model._meta.concrete_fields
    )


@functools.cache
def _loader(model, vendor: str, only: tuple[str, ...] | None = None) -> _Loader:
    fields = _fields(model, only)
    steps = []
    for index, field in enumerate(fields):
        expression, converters = _converters(model, field, vendor)
        if converters:
            steps.append((index, expression, converters))
    return _Loader(
        attnames=[field.attname for field in fields],
        pk_index=fields.index(model._meta.pk),
        steps=tuple(steps),
        plain=_plain(model),
    )


def _database():
    """The connection itself rather than its proxy, which looks it up on every
    attribute: a row's converters use it once per column."""
    return connections[DEFAULT_DB_ALIAS]


def value(model, field_name: str, raw):
    """A column's value as the ORM reads it (a UUID, a datetime on SQLite too)."""
    database = _database()
    expression, converters = _converters(model, model._meta.get_field(field_name), database.vendor)
    for converter in converters:
        raw = converter(raw, expression, database)
    return raw


def _listened(signal, model) -> bool:
    # Most processes connect nothing to these signals: no receivers, no lookup.
    return bool(signal.receivers) and signal.has_listeners(model)


def _instance(model, values, loader: _Loader, database):
    loaded = list(values)
    for index, expression, converters in loader.steps:
        raw = loaded[index]
        for converter in converters:
            raw = converter(raw, expression, database)
        loaded[index] = raw
    if not loader.plain or _listened(pre_init, model) or _listened(post_init, model):
        return model.from_db(database.alias, loader.attnames, loaded)
    # What from_db leaves, without Model.__init__'s work per field: every hot-path read
    # builds several instances.
    instance = model.__new__(model)
    instance._state = ModelState()
    instance._state.adding = False
    instance._state.db = database.alias
    instance.__dict__.update(zip(loader.attnames, loaded, strict=True))
    return instance


def instance(model, values):
    """The saved instance a row of `columns(model, …)` holds."""
    database = _database()
    loader = _loader(model, database.vendor)
    if len(values) != len(loader.attnames):
        raise ValueError(f"{model.__name__} has {len(loader.attnames)} columns, not {len(values)}.")
    return _instance(model, values, loader, database)


def instances(row, models) -> list:
    """The instances of `models` in a row of their `columns` side by side, in order; None
    for a model whose columns are all NULL (a LEFT JOIN that found nothing). A model
    read with `only` is given as `(model, only)`. Values past the last model's columns
    are the caller's."""
    database = _database()
    loaded, start = [], 0
    for model in models:
        model, only = _shape(model)
        loader = _loader(model, database.vendor, only)
        end = start + len(loader.attnames)
        values = row[start:end]
        start = end
        if values[loader.pk_index] is None:
            loaded.append(None)
        else:
            loaded.append(_instance(model, values, loader, database))
    return loaded


def fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fetch_first(sql: str, params: list) -> list[tuple]:
    """fetch, for a read that is the first statement of a request: the read is its own
    connection health check.

    With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first statement of every
    request, so that a connection the database dropped since the worker last used it (a
    restart, a failover) is replaced instead of failing the request. That is a round
    trip of its own, as costly as the read behind it. Here the read goes first; if it
    fails and the connection turns out to be dead, the connection is closed and the read
    runs once more on a new one, which is what the check would have done. Inside a
    transaction, or when the check is off or done, this is plain `fetch`.
    """
    database = _database()
    if (
        database.connection is None
        or not database.health_check_enabled
        or database.health_check_done
        or database.in_atomic_block
    ):
        return fetch(sql, params)
    database.health_check_done = True
    try:
        return fetch(sql, params)
    except (OperationalError, InterfaceError):
        if database.is_usable():
            raise
        database.close()
    return fetch(sql, params)


@functools.cache
def _insert_head(model, vendor: str) -> tuple[list, str]:
    """The fields an INSERT writes and its `INSERT INTO <table> (<columns>) VALUES `."""
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.auto_field]
    columns = ", ".join(quote(field.column) for field in fields)
    return fields, f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES "  # noqa: S608


def insert_values(objs: list) -> tuple[str, list]:
    """`INSERT INTO <table> (<columns>) VALUES (...), ...` for new objects of one model,
    written as save() and bulk_create() would write them.

    Identifiers from the model, every value a parameter prepared by its field
    (pre_save, then get_db_prep_save, as the ORM does); a database default is the
    column's DEFAULT; the auto-incremented id is the sequence's.
    """
    database = _database()
    fields, head = _insert_head(type(objs[0]), database.vendor)
    values, params = [], []
    for obj in objs:
        placeholders = []
        for field in fields:
            value = field.pre_save(obj, add=True)
            if isinstance(value, DatabaseDefault):
                placeholders.append("DEFAULT")
                continue
            placeholders.append("%s")
            params.append(field.get_db_prep_save(value, database))
        values.append(f"({', '.join(placeholders)})")
    return f"{head}{', '.join(values)}", params


def insert_row(model, values: dict) -> tuple[str, list]:
    """`insert_values` for one row given as its column values by attname, without an
    instance: for a row nothing reads back (a log row), whose instance would cost more
    to build than the statement. Every field must be given, but the auto-incremented
    id; each value is prepared by its field (get_db_prep_save), as save() prepares it."""
    database = _database()
    fields, head = _insert_head(model, database.vendor)
    if len(values) != len(fields):
        missing = {field.attname for field in fields} ^ set(values)
        raise ValueError(f"{model.__name__}: give exactly its fields ({sorted(missing)}).")
    params = [field.get_db_prep_save(values[field.attname], database) for field in fields]
    return f"{head}({', '.join(['%s'] * len(fields))})", params


def mark_saved(obj) -> None:
    """What save() leaves on an instance it inserted."""
    obj._state.adding = False
    obj._state.db = connection.alias
