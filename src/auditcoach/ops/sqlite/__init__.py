"""Django's SQLite backend, with one probe answered instead of run (see `base`)."""
