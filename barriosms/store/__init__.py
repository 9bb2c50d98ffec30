"""The store: peewee models, opening the database (SQLite or PostgreSQL), numbered migrations.

May import: barriosms.domain only. Never barriosms.config, a service or an interface: callers pass
the database path in.
"""
