"""Plain INSERTs of new model instances, their statement built once per model and row count.

The webhook's answer inserts a Delivery, a Tweet and its Photos for most deliveries, and
the ORM's save() compiles each INSERT anew, field by field: 125 µs for a Delivery and
200 µs for a Tweet here, against 20 µs to run the statement. instances_insert() builds the
statement once, from the model's own fields and the database's own operations (quoting,
VALUES, RETURNING), and turns each value into its database form through the field, as the
ORM does (Field.pre_save for auto_now_add, then Field.get_db_prep_save). What it leaves
out, the bot does not use on these models: signals (no receivers), expressions as values,
database defaults and generated fields (refused), conflict handling (an IntegrityError is
raised, and the transaction marked for rollback, as from save()). The tests compare its rows
with save()'s and bulk_create()'s, field by field, on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


def instances_insert(instances: Sequence[models.Model]) -> None:
    """INSERT these new instances of one model in one statement, as save(force_insert=True) would.

    Each ends saved, auto_now_add fields and primary key set (from RETURNING; where the
    database has none, a lone row's from its last insert id, and rows of several stay unsaved).
    """
    if not instances:
        return
    model = type(instances[0])
    if any(type(instance) is not model or not instance._state.adding or instance.pk is not None for instance in instances):
        raise ValueError("instances_insert takes new instances of one model, without primary keys")
    alias = router.db_for_write(model)
    connection = transaction.get_connection(alias)
    fields = _fields(model)
    for instance in instances:
        instance._prepare_related_fields_for_save(operation_name="instances_insert")  # type: ignore[attr-defined]  # as bulk_create does
    features = connection.features
    returning = features.can_return_rows_from_bulk_insert if len(instances) > 1 else features.can_return_columns_from_insert
    params = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for instance in instances for field in fields]
    with transaction.mark_for_rollback_on_error(alias), connection.cursor() as cursor:
        cursor.execute(_statement(model, alias, len(instances), returning), params)
        if returning:
            # In the order of the VALUES, as Django's bulk_create takes them (PostgreSQL, SQLite 3.35+).
            pks = [row[0] for row in cursor.fetchall()]
        elif len(instances) == 1:
            pks = [connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)]
        else:
            return
    for instance, pk in zip(instances, pks, strict=True):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = alias


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT gives a value: every concrete field but an automatic primary key."""
    fields = tuple(field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField))
    for field in fields:
        if getattr(field, "generated", False) or getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            raise ValueError(f"instances_insert cannot fill {model.__name__}.{field.name}: the database computes it")
    return fields


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
