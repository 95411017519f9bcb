"""Private pieces of the SQLite checkpoint store (see ``checkpoints_sqlite``)."""
