"""Plain INSERTs of new model instances, their statement built once per model and row count.

The webhook's answer inserts a Delivery, a Tweet and its Photos for most deliveries, and
the ORM's save() compiles each INSERT anew, field by field: 125 µs for a Delivery and
200 µs for a Tweet here, against 20 µs to run the statement. An Insert builds the statement
once, from the model's own fields and the database's own operations (quoting, VALUES,
RETURNING), and turns each value into its database form through the field, as the ORM does
(Field.pre_save for auto_now_add, then Field.get_db_prep_save), a field's constant default
once per model. It is prepared before the transaction and run in it, foreign keys read when
it runs (a Tweet can refer to the Delivery inserted just before it).

What it leaves out, the bot does not use on these models: signals (no receivers),
expressions as values, database defaults and generated fields (refused). A row that breaks
a constraint raises IntegrityError, and the transaction is marked for rollback, as from
save(); but an Insert with `unique` skips a row whose unique value is taken (ON CONFLICT
(column) DO NOTHING, on PostgreSQL and SQLite alike), which save() cannot: a redelivered
post is then one statement that writes nothing, not a failed transaction tried again. The
tests compare its rows with save()'s and bulk_create()'s, field by field, on both databases.

A transaction that runs Inserts and nothing else (the webhook's, for most deliveries) can
be transaction_of_inserts(): BEGIN, the statements and COMMIT on the DB-API cursor, without
Django's atomic() and cursor wrappers around each step (Django offers no lighter transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, NotSupportedError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)


class Insert:
    """An INSERT of new instances of one model, prepared before the transaction that runs it.

    Preparing turns every value into its database form (Field.pre_save, then
    get_db_prep_save), but for foreign keys: those are read when it runs, so an instance can
    refer to one not saved yet (a Tweet to its Delivery) that is inserted first, in the same
    transaction. On SQLite, the transaction is the one writer at a time (bot.writer): what is
    prepared before it opens is work the other writers need not wait for.

    unique: a unique field; a row whose value of it is taken (committed by another
    transaction, or written earlier in this one) is not inserted, and nothing fails: ON
    CONFLICT (field) DO NOTHING. On PostgreSQL, a concurrent transaction inserting the same
    value is waited for: its row counts once it commits, and is none if it rolls back. Other
    constraints still raise IntegrityError. Needs a lone instance and INSERT ... RETURNING.
    """

    def __init__(self, instances: Sequence[models.Model], *, unique: str = "") -> None:
        if not instances:
            raise ValueError("nothing to insert")
        self.model = type(instances[0])
        if any(type(instance) is not self.model or not instance._state.adding or instance.pk is not None for instance in instances):
            raise ValueError("an Insert takes new instances of one model, without primary keys")
        self.instances = instances
        self.alias = router.db_for_write(self.model)
        self.connection = connection = transaction.get_connection(self.alias)
        features = connection.features
        self.returning = features.can_return_rows_from_bulk_insert if len(instances) > 1 else features.can_return_columns_from_insert
        self.unique = ""
        if unique:
            field = self.model._meta.get_field(unique)
            if not isinstance(field, models.Field) or not field.unique:
                raise ValueError(f"{self.model.__name__}.{unique} is not unique")
            if len(instances) != 1 or not self.returning:
                raise NotSupportedError("an INSERT that skips a taken value takes one instance and needs INSERT ... RETURNING")
            self.unique = field.column
        self.params: list = []
        self.related: list[tuple[int, models.Model, models.Field]] = []  # foreign keys, read when it runs
        for instance in instances:
            for field, plain, default in _plan(self.model, self.alias):
                if field.is_relation:
                    self.related.append((len(self.params), instance, field))
                    self.params.append(None)
                    continue
                value = getattr(instance, field.attname) if plain else field.pre_save(instance, add=True)
                if default is not None and (value is default[0] or (type(value) is type(default[0]) and value == default[0])):
                    self.params.append(default[1])  # the field's constant default, turned once
                else:
                    self.params.append(field.get_db_prep_save(value, connection))

    def run(self, cursor: Any = None) -> bool:
        """Insert the rows; True unless a taken unique value left its row out (the instance then stays unsaved).

        cursor: a DB-API cursor, transaction_of_inserts()'s or dbapi_cursor()'s, to run the
        statement on it directly; None runs it through Django's cursor, in whatever transaction is open."""
        for instance in self.instances:
            instance._prepare_related_fields_for_save(operation_name="Insert")  # type: ignore[attr-defined]  # as bulk_create does
        for index, instance, field in self.related:
            self.params[index] = field.get_db_prep_save(field.pre_save(instance, add=True), self.connection)
        model, connection = self.model, self.connection
        statement = _statement(model, self.alias, len(self.instances), self.returning, self.unique)
        if cursor is not None:
            pks = self._execute(cursor, _in_paramstyle(statement, self.alias))
        else:
            with transaction.mark_for_rollback_on_error(self.alias), connection.cursor() as django_cursor:
                pks = self._execute(django_cursor, statement)
        if pks is None:
            return True
        if not pks:
            return False
        for instance, pk in zip(self.instances, pks, strict=True):
            instance.pk = pk
            instance._state.adding = False
            instance._state.db = self.alias
        return True

    def _execute(self, cursor: Any, statement: str) -> list | None:
        """The new rows' primary keys, in the order of the VALUES; None where the database cannot say."""
        cursor.execute(statement, self.params)
        if self.returning:
            # In the order of the VALUES, as Django's bulk_create takes them (PostgreSQL, SQLite 3.35+).
            return [row[0] for row in cursor.fetchall()]
        if len(self.instances) == 1:
            return [self.connection.ops.last_insert_id(cursor, self.model._meta.db_table, self.model._meta.pk.column)]
        return None


@contextmanager
def transaction_of_inserts(alias: str = DEFAULT_DB_ALIAS, *, only_inserts: bool = True) -> Iterator[Any]:
    """A transaction that only runs Inserts, begun and committed on the DB-API connection itself;
    yields its cursor, for Insert.run. Where it cannot be so, it is transaction.atomic() and
    yields None: when other writes run in it too (only_inserts false), when an atomic() block is
    open (it nests in it), when the connection is watched (an execute_wrapper, the debug
    cursor: they see every statement).

    Nothing else runs in it: the ORM would not know a transaction is open (atomic() would begin
    another, or on PostgreSQL commit this one halfway; on_commit() would run at once), so a
    statement through Django's cursor raises TransactionManagementError. What it saves is
    Django's transaction and cursor machinery, which counts on SQLite: the transaction is the
    one writer at a time (bot.writer), and under a burst of deliveries each step in it is
    waited for by the other writers. The database's errors still come as Django's
    (IntegrityError, OperationalError), and any error, or a failed COMMIT, rolls it back. An
    error must leave the block: inside it, it is still the driver's, and caught there, the rest
    would commit (SQLite) or be rolled back at COMMIT without a word (PostgreSQL). Callers
    hold their on-commit work until it ends (bot.dispatch.dispatches_held)."""
    connection = transaction.get_connection(alias)
    watched = connection.queries_logged or connection.execute_wrappers
    if not only_inserts or connection.in_atomic_block or not connection.get_autocommit() or watched:
        with transaction.atomic(using=alias):
            yield None
        return
    with dbapi_cursor(alias) as cursor, connection.execute_wrapper(_refused):
        cursor.execute(_begin(alias))
        try:
            yield cursor
            cursor.execute("COMMIT")
        except BaseException:
            _rollback(connection, cursor)
            raise


@contextmanager
def dbapi_cursor(alias: str = DEFAULT_DB_ALIAS) -> Iterator[Any]:
    """A cursor of the DB-API connection itself, for Insert.run: the connection health-checked
    and opened as Django's cursor() would, the database's errors raised as Django's. It runs in
    whatever state the connection is (in autocommit, each statement commits itself); closed at
    the end unless the connection was closed meanwhile (a cursor of a closed one raises)."""
    connection = connections[alias]
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = connection.connection.cursor()
        try:
            yield cursor
        finally:
            if connection.connection is not None:  # not closed meanwhile (by _rollback, say): a cursor of a closed one raises
                cursor.close()


def _refused(execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
    """Django's cursor, in a transaction of inserts: the ORM would write as if none were open."""
    raise transaction.TransactionManagementError(f"only Inserts run in transaction_of_inserts(), not {sql[:60]!r}: pass only_inserts=False")


def _rollback(connection: BaseDatabaseWrapper, cursor: Any) -> None:
    try:
        cursor.execute("ROLLBACK")
    except BaseException as exc:
        # Rolled back by the database already (SQLite does, on a full disk or an I/O error), the
        # connection broken, or an interrupt meanwhile: closed, never reused with a transaction
        # that may be open.
        connection.close()
        if not isinstance(exc, Exception):
            raise
        logger.warning("a transaction of inserts could not be rolled back: its connection is closed", exc_info=True)


def _begin(alias: str) -> str:
    """BEGIN as Django's atomic() says it on this database (SQLite's transaction_mode: IMMEDIATE here)."""
    mode = getattr(connections[alias], "transaction_mode", None)
    return f"BEGIN {mode}" if mode else "BEGIN"


@cache
def _in_paramstyle(statement: str, alias: str) -> str:
    """Django's statement (%s placeholders) as the DB-API module takes it: SQLite's ?, psycopg2's %s."""
    if connections[alias].Database.paramstyle == "qmark":  # type: ignore[attr-defined]  # each backend's DB-API module
        converted = statement.replace("%s", "?")
        if "%" in converted:
            raise ValueError(f"a % other than a placeholder in {statement}")
        return converted
    return statement


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    """The columns an INSERT gives a value: every concrete field but an automatic primary key."""
    fields = tuple(field for field in model._meta.concrete_fields if not isinstance(field, models.AutoField))
    for field in fields:
        if getattr(field, "generated", False) or getattr(field, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            raise ValueError(f"an Insert cannot fill {model.__name__}.{field.name}: the database computes it")
    return fields


@cache
def _plan(model: type[models.Model], alias: str) -> tuple[tuple[models.Field, bool, tuple[object, object] | None], ...]:
    """Each column's field; whether its pre_save only reads the value (most do: not auto_now,
    not a file); and its constant default with that value's database form, or None.

    Most of a new row's columns hold their field's default: turning it into its database form
    once, instead of on every insert, halves the work of preparing a Tweet. A field's database
    form of a value depends on the value and the database alone, for Django's own fields."""
    connection = connections[alias]
    plan = []
    for field in _fields(model):
        dated = isinstance(field, models.DateField | models.TimeField)  # DateTimeField is a DateField
        plain = type(field).pre_save is models.Field.pre_save or (dated and not field.auto_now and not field.auto_now_add)  # type: ignore[attr-defined]
        default = None
        if plain and not field.is_relation and not (field.has_default() and callable(field.default)):
            constant = field.get_default()
            if constant is None or isinstance(constant, str | int | float | bool | bytes):
                default = (constant, field.get_db_prep_save(constant, connection))
        plan.append((field, plain, default))
    return tuple(plan)


@cache
def _statement(model: type[models.Model], alias: str, rows: int, returning: bool, skip_taken: str) -> str:
    """The INSERT of `rows` rows; skip_taken: a unique column whose taken values insert nothing."""
    connection: BaseDatabaseWrapper = connections[alias]
    quote = connection.ops.quote_name
    fields = _fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = [["%s"] * len(fields)] * rows
    values = connection.ops.bulk_insert_sql(fields, placeholders)  # type: ignore[arg-type]  # rows of placeholders, as Django passes them (django-stubs says strings)
    statement = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {values}"
    if skip_taken:
        statement += f" ON CONFLICT ({quote(skip_taken)}) DO NOTHING"
    if returning:
        statement += " " + connection.ops.return_insert_columns([model._meta.pk])[0]
    return statement
