"""The index folder on disk: SQLite (the source of truth) and the files derived from it."""
