"""The names Slack sees: the command, shortcuts, form callbacks and the reply metadata type.

They must match `deploy/slack-manifest.yml`, which a test checks.
"""

from __future__ import annotations

PLATFORM = "slack"
TICKET_COMMAND = "/ticket"
"""The slash command that opens the ticket form."""
MESSAGE_SHORTCUT = "sb_ticket_from_message"
"""`callback_id` of the message shortcut filing a ticket from a message."""
NEW_TICKET = "sb_new_ticket"
"""Action of the App Home button (and callback of the global shortcut) opening the form."""
TICKET_FORM = "sb_ticket_form"
"""`callback_id` of the modal that files an incident or a request."""
NOTE_FORM = "sb_note_form"
"""`callback_id` of the modal that adds a note to a ticket."""
METADATA_EVENT = "switchboard_reply"
"""`event_type` of the message metadata carrying a reply's delivery key."""
