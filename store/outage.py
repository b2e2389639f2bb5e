"""Telling an outage of the database or Redis from a bug.

A loop that meets an outage waits and tries again; a loop that meets a bug reports it. The
test is precise on purpose: a bare `OSError` (a missing file, a full disk) is not an outage,
while a refused or reset connection to the database or Redis is.
"""

from __future__ import annotations

import sys
from types import ModuleType

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from store.errors import UnavailableError

# Server states in which PostgreSQL refuses work for a while and then comes back.
_PG_MESSAGES = (
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "terminating connection due to administrator command",
    "connection is closed",
    "connection was closed",
    "cannot perform operation: another operation is in progress",
)

_REDIS_OUTAGES = (
    redis_errors.ConnectionError,  # includes BusyLoadingError (Redis loading its data set)
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,  # a replica promoted mid-failover
)


def _asyncpg() -> ModuleType | None:
    """The PostgreSQL driver, if this process has loaded it: no error of it exists otherwise.

    A process on SQLite never loads the driver (about 3 MB) just to test errors against it.
    """
    return sys.modules.get("asyncpg")


def _pg_outages(asyncpg: ModuleType) -> tuple[type[BaseException], ...]:
    return (
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,  # shutting down, starting up, in recovery
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        asyncpg.ConnectionDoesNotExistError,
        asyncpg.TooManyConnectionsError,
    )


# Socket-level failures of a connection (refused, reset, aborted, broken pipe) and a
# connect that timed out; other OSErrors are not about a server being away.
_SOCKET_OUTAGES = (ConnectionError, TimeoutError)


def is_outage(error: BaseException) -> bool:
    """True when `error` means the database or Redis is unreachable for now (retry later)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _one(error: BaseException) -> bool:
    asyncpg = _asyncpg()
    pg_outages = _pg_outages(asyncpg) if asyncpg is not None else ()
    if isinstance(error, (UnavailableError, *_REDIS_OUTAGES, *pg_outages, *_SOCKET_OUTAGES)):
        return True
    if isinstance(error, sa_errors.DBAPIError):
        if error.connection_invalidated:
            return True
        # Integrity and data errors are about the statement, not the server.
        if isinstance(error, sa_errors.OperationalError | sa_errors.InterfaceError):
            return True
    if isinstance(error, sa_errors.DisconnectionError | sa_errors.TimeoutError):
        return True  # pool exhausted or a connection lost while checking it out
    pg_interface = (asyncpg.InterfaceError,) if asyncpg is not None else ()
    if isinstance(error, (*pg_interface, sa_errors.DBAPIError)):
        text = str(error).lower()
        return any(m in text for m in _PG_MESSAGES)
    return False
