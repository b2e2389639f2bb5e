"""Monitoring alerts (Prometheus Alertmanager and a generic JSON event) as a channel."""
