"""ITSM processes: incidents, requests, problems, changes, service levels, knowledge."""
