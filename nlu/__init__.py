"""Natural-language understanding for Switchboard: intents and entities from chat text."""

from nlu.spacy_cli import defer

# Before any module of this package imports spaCy: its command line loads on first use only.
defer()
