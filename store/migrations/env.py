"""Alembic environment: async engines, batch mode on SQLite, an injectable connection."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from store.db import create_engine, normalise_database_url
from store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> tuple[str, dict[str, Any]]:
    url = (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or "sqlite:///var/switchboard.db"
    )
    return normalise_database_url(url)


def _include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    # SQLite's full-text index is a virtual table (and its shadow tables) no model declares.
    return not (type_ == "table" and name is not None and name.startswith("knowledge_fts"))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url, connect_args = _url()
    engine = create_engine(url, connect_args=connect_args)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Write the migrations' SQL instead of running it (`alembic upgrade --sql`)."""
    context.configure(
        url=_url()[0],
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the connection a caller lent, else on a new engine."""
    shared = config.attributes.get("connection")
    if shared is not None:
        _run(shared)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_offline()
else:
    run_online()
