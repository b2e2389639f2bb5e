"""One factory per platform: builds its channel from the settings, without I/O."""
