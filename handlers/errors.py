"""Errors of the ITSM processes."""

from __future__ import annotations


class HandlerError(Exception):
    """Root of every handler error."""


class LifecycleError(HandlerError):
    """A ticket cannot move from its state to the one asked for."""
