"""Natural-language understanding for Switchboard: intents and entities from chat text."""
