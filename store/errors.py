"""Errors the store raises."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every store error."""


class ConflictError(StoreError):
    """Another transaction changed the same row first; retry the unit of work."""


class UnavailableError(StoreError):
    """The database or Redis cannot be reached right now."""
