"""The person's overview: their open tickets, an agent's queue, an approver's pending changes."""

from __future__ import annotations
