"""Linking a platform account to a directory person with a one-time code."""

from __future__ import annotations
