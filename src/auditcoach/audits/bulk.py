"""Writing many rows of a model as plain tuples, without model objects or `bulk_create`.

The import writes about 13 rows per encounter; building a model object per row and letting
`bulk_create` prepare every value costs ten times what the database needs to store them
(bench/README.md, import). `RowWriter` inserts tuples in the column order of the table:
SQLite `executemany`, PostgreSQL `COPY … FROM STDIN` (psycopg 3), on the connection's current
transaction. It gives every column the rows do not carry what `Model.save` would: a default
(called per row when callable: `uuid4`, `dict`), `now` for `auto_now`/`auto_now_add`, or a
value fixed for the whole write; and it prepares values with `get_db_prep_save` only for the
field types that need a conversion (decimals, dates, datetimes, UUIDs, JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.db.models.fields import AutoFieldMixin

# Field types whose Python values the driver cannot take as they are (on some database).
_PREPARED = (
    models.DecimalField,
    models.DateField,  # DateTimeField too
    models.TimeField,
    models.UUIDField,
    models.JSONField,
    models.DurationField,
)


def _needs_prep(field: models.Field[Any, Any]) -> bool:
    return isinstance(field, _PREPARED)


class RowWriter:
    """Insert rows of `model` given as tuples of the values of `fields` (in that order).

    Every other concrete field but the auto primary key is filled as `Model.save` would:
    from `fixed` (prepared once), `now` for `auto_now`/`auto_now_add` fields, or the field's
    default (a callable default is called for every row; without a default, what Django
    stores: "" or None).
    """

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        *,
        now: datetime,
        fixed: dict[str, Any] | None = None,
    ) -> None:
        fixed = fixed or {}
        meta = model._meta
        given = {name: i for i, name in enumerate(fields)}
        self.table = meta.db_table
        self.columns: list[str] = []
        # One entry per column: (index into the given tuple, or None; a prep function or
        # None; a per-row callable or None; a constant).
        plan: list[tuple[int | None, Callable[[Any], Any] | None, Callable[[], Any] | None, Any]]
        plan = []
        for field in meta.concrete_fields:
            if field.primary_key and isinstance(field, AutoFieldMixin):
                continue
            self.columns.append(str(field.column))
            prep = self._prep(field) if _needs_prep(field) else None
            if field.name in given or field.attname in given:
                index = given.get(field.name, given.get(field.attname))
                plan.append((index, prep, None, None))
            elif field.name in fixed:
                value = fixed[field.name]
                plan.append((None, None, None, prep(value) if prep else value))
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                plan.append((None, None, None, prep(now) if prep else now))
            elif field.has_default() and callable(field.default):
                plan.append((None, prep, field.default, None))
            else:  # a constant default, or what Django gives a field without one ("", None)
                value = field.get_default()
                plan.append((None, None, None, prep(value) if prep else value))
        unknown = (
            set(fields)
            - {f.name for f in meta.concrete_fields}
            - {f.attname for f in meta.concrete_fields}
        )
        if unknown:
            raise ValueError(f"{model.__name__}: unknown fields {sorted(unknown)}")
        self._plan = plan
        # Rows that carry every column in table order, none needing a conversion, go as
        # they are (the code lines).
        self._as_is = all(
            index == position and prep is None and call is None
            for position, (index, prep, call, _) in enumerate(plan)
        ) and len(plan) == len(fields)

    @staticmethod
    def _prep(field: models.Field[Any, Any]) -> Callable[[Any], Any]:
        def prep(value: Any) -> Any:
            return field.get_db_prep_save(value, connection)

        return prep

    def tuples(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """The rows as the database takes them, in the column order of `columns`."""
        if self._as_is:
            return [row if isinstance(row, tuple) else tuple(row) for row in rows]
        plan = self._plan
        out = []
        for row in rows:
            values = []
            for index, prep, call, constant in plan:
                if index is not None:
                    value = row[index]
                elif call is not None:
                    value = call()
                else:
                    values.append(constant)
                    continue
                values.append(prep(value) if prep is not None else value)
            out.append(tuple(values))
        return out

    def insert(self, rows: Iterable[Sequence[Any]]) -> int:
        """Insert the rows in the current transaction; returns how many."""
        data = self.tuples(rows)
        if not data:
            return 0
        quoted = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        table = connection.ops.quote_name(self.table)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", data)
        return len(data)
