"""Names and limits of the Telegram channel."""

from __future__ import annotations

import re

PLATFORM = "telegram"
PATH = "/telegram/webhook"
ALLOWED_UPDATES = ("message", "callback_query")
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
MAX_BUTTONS = 30
ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
