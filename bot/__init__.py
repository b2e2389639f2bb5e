"""The Switchboard application: configuration, composition, web and worker roles, CLI."""
