"""Telling an outage of the database or Redis from a bug."""

from __future__ import annotations

import asyncpg
import pytest
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from store.errors import ConflictError, UnavailableError
from store.outage import is_outage


def _wrapped(cause: BaseException) -> Exception:
    """An error raised while handling `cause`, as drivers and SQLAlchemy chain them."""
    try:
        raise cause
    except BaseException as e:
        try:
            raise RuntimeError("while talking to the server") from e
        except RuntimeError as outer:
            return outer


@pytest.mark.parametrize(
    "error",
    [
        redis_errors.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
        redis_errors.TimeoutError("Timeout reading from socket"),
        redis_errors.BusyLoadingError("Redis is loading the dataset in memory"),
        asyncpg.CannotConnectNowError("the database system is shutting down"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "Connection reset by peer"),
        sa_errors.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        sa_errors.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
        sa_errors.DBAPIError("SELECT 1", {}, Exception("the database system is shutting down")),
        UnavailableError("cannot reach"),
    ],
)
def test_outages(error: BaseException) -> None:
    assert is_outage(error)
    assert is_outage(_wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        OSError(28, "No space left on device"),
        FileNotFoundError(2, "No such file or directory"),
        PermissionError(13, "Permission denied"),
        redis_errors.ResponseError("WRONGTYPE Operation against a key"),
        sa_errors.IntegrityError("INSERT", {}, Exception("duplicate key value")),
        sa_errors.DataError("INSERT", {}, Exception("unsupported Unicode escape sequence")),
        ConflictError("another worker changed the row"),
        ValueError("bad payload"),
        KeyError("sender"),
    ],
)
def test_not_outages(error: BaseException) -> None:
    assert not is_outage(error)
    assert not is_outage(_wrapped(error))
