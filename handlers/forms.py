"""Tickets filed through a form (a Slack modal, a message turned into a ticket)."""

from __future__ import annotations
