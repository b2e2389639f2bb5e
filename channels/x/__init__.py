"""X (Twitter): public mentions and direct messages, through tweepy's `AsyncClient`.

Mentions are polled (`GET /2/users/:id/mentions` from the stored `since_id`) and may also be
pushed by the Account Activity webhook at `/x/webhook`; direct messages arrive the same two
ways. Both paths produce the same event ids (`tweet:<id>`, `dm:<id>`), so the inbox keeps one
copy whichever arrives first.

Every X user has one conversation with us, `Address(conversation="dm:<user id>")`, whether
they wrote in public or by DM: a question asked after a public complaint goes by DM, and the
DM that answers it lands in the same dialogue. Replies go by DM. A public complaint gets one
short public reply, composed from the ticket reference alone (never a name, email, phone or
the complaint's words): an accepted mention leaves a durable "awaiting a public answer" mark
for its author, and the first reply about a ticket within `public_window` seconds answers
that tweet in public and takes the mark. Later updates about the ticket go by DM only, so a
thread gets one public reply, not one per status change.

One job per module: `verify` (CRC and webhook signatures), `parse` (payloads to the
conversation model), `render` (public reply and DM), `send` (the tweepy client, its base URL,
its logs and its errors), `polling`, `public` (the public-answer mark) and `channel` (the
`XChannel` adapter joining them). This file imports nothing, so `channels.x.parse` never
loads tweepy.
"""
