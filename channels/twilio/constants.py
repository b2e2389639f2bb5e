"""Names and limits of the Twilio channel."""

from __future__ import annotations

NAME = "twilio"
MESSAGES_PATH = "/twilio/messages"
STATUS_PATH = "/twilio/status"
MAX_SEGMENTS = 10
WHATSAPP_MAX_CHARS = 1600
MAX_BODY_CHARS = 4000
