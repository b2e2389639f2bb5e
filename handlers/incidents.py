"""Incidents: report, add information, escalate, resolve and reopen.

The report lives in `handlers.incident_report`, what follows it on a ticket in
`handlers.incident_updates`. Importing this module registers their handlers in that order
(the report first), and the other processes and the registry read the names from here.
"""

from __future__ import annotations

from handlers.incident_report import is_customer, level_of, report_incident, service_named
from handlers.incident_updates import add_info, assign, assign_to_me, escalate, reopen, resolve

__all__ = [
    "add_info",
    "assign",
    "assign_to_me",
    "escalate",
    "is_customer",
    "level_of",
    "reopen",
    "report_incident",
    "resolve",
    "service_named",
]
