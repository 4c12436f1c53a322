"""Plain INSERTs of new model instances, their statement built once per model and row count.

The webhook's answer inserts a Delivery, a Tweet and its Photos for most deliveries, and
the ORM's save() compiles each INSERT anew, field by field: 125 µs for a Delivery and
200 µs for a Tweet here, against 20 µs to run the statement. instances_insert() builds the
statement once, from the model's own fields and the database's own operations (quoting,
VALUES, RETURNING), and turns each value into its database form through the field, as the
ORM does (Field.pre_save for auto_now_add, then Field.get_db_prep_save). What it leaves
out, the bot does not use on these models: signals (no receivers), expressions as values,
database defaults, conflict handling (an IntegrityError is raised as from save()). The
tests compare its rows with save()'s, field by field, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


def instances_insert(instances: Sequence[models.Model]) -> None:
    """INSERT these new instances of one model in one statement, as save(force_insert=True) would.

    Each ends saved: auto_now_add fields set, its primary key set when it is the only one
    (SQLite does not promise RETURNING's rows in the order of the VALUES).
    """
    if not instances:
        return
    model = type(instances[0])
    if any(type(instance) is not model or not instance._state.adding for instance in instances):
        raise ValueError("instances_insert takes new instances of one model")
    alias = router.db_for_write(model)
    connection = transaction.get_connection(alias)
    fields = _fields(model)
    returning = len(instances) == 1 and connection.features.can_return_columns_from_insert
    params = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for instance in instances for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(_statement(model, alias, len(instances), returning), params)
        if returning:
            instances[0].pk = cursor.fetchone()[0]
        elif len(instances) == 1:
            instances[0].pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = alias


def _fields(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT gives a value: every concrete field but an automatic primary key."""
    return [field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField)]


@cache
def _statement(model: type[models.Model], alias: str, rows: int, returning: bool) -> str:
    connection: BaseDatabaseWrapper = connections[alias]
    quote = connection.ops.quote_name
    fields = _fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = [["%s"] * len(fields)] * rows
    values = connection.ops.bulk_insert_sql(fields, placeholders)  # type: ignore[arg-type]  # rows of placeholders, as Django passes them (django-stubs says strings)
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {values}"
    if returning:
        statement += " " + connection.ops.return_insert_columns([model._meta.pk])[0]
    return statement
