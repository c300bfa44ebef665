"""Django's SQLite backend, without the JSON probe that waits on an import's write lock.

Django finds out whether SQLite has JSON by running `SELECT JSON(...)` inside
`transaction.atomic()`; with `transaction_mode = IMMEDIATE` that begins a write transaction,
so while a large import holds SQLite's one write lock the probe waits the busy timeout,
fails, and every management command's system check then says "SQLite does not support
JSONFields". JSON is built into SQLite by default since 3.38 (2022), so the answer is fixed
here and the probe never runs; the suite's JSONField queries on SQLite would fail at once on
a build without it.
"""

from django.db.backends.sqlite3 import base, features


class DatabaseFeatures(features.DatabaseFeatures):
    supports_json_field = True


class DatabaseWrapper(base.DatabaseWrapper):
    features_class = DatabaseFeatures
