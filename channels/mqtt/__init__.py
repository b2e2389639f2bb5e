"""Device telemetry and events over MQTT: a subscriber that turns messages into alerts."""
