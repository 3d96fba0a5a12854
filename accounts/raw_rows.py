"""Hot-path statements written out once from the models, loaded as the ORM loads rows.

Compiling a queryset costs far more than running it: a two-table SELECT takes about
0.5 ms of Python to build and 0.15 ms at the database. The few reads that every SCIM
request or SAML sign-in makes are therefore written out from the models' metadata once
per process (identifiers only; every value stays a parameter), and their rows become
instances through each column's converters and `Model.from_db`, as the ORM's own
iterator loads them. Any other read uses the ORM.
"""

from django.db import connection


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return quote(model._meta.db_table)


def column(model, field_name: str, alias: str = "") -> str:
    name = quote(model._meta.get_field(field_name).column)
    return f"{alias}.{name}" if alias else name


def columns(model, alias: str) -> str:
    """Every concrete column of the model, in field order: what `instance` reads back."""
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def width(model) -> int:
    """How many values of a row `columns` selects."""
    return len(model._meta.concrete_fields)


def instance(model, values):
    """The saved instance a row of `columns(model, …)` holds."""
    fields = model._meta.concrete_fields
    loaded = []
    for field, value in zip(fields, values, strict=True):
        expression = field.get_col(model._meta.db_table)
        converters = [
            *connection.ops.get_db_converters(expression),
            *expression.get_db_converters(connection),
        ]
        for converter in converters:
            value = converter(value, expression, connection)
        loaded.append(value)
    return model.from_db(connection.alias, [field.attname for field in fields], loaded)


def fetch(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
