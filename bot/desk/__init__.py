"""The desk configuration: people, groups, services, calendars, agreements and suppliers."""
