"""Persistence: SQLAlchemy models, migrations, unit of work, Redis state and the queue."""
