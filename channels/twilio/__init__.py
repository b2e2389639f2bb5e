"""Twilio SMS and WhatsApp: one signed webhook in, replies through the REST API.

Both arrive at `POST /twilio/messages`; WhatsApp numbers carry a `whatsapp:` prefix, which
sets `Address.channel`. The sender is `Identity(platform="phone", external_id=<E.164>)` on
both, so the directory's phone numbers recognise people wherever they write from. The
webhook answers with empty TwiML as soon as the message is in the inbox; replies go out
through the outbox, and delivery reports come back to `POST /twilio/status`.

Text only: buttons become numbered choices ("Reply 1 to approve CHG-12") and the number a
person types back is turned into the same `Action` a click would have made, cards become
lines, Markdown is dropped, and an SMS is kept within `MAX_SEGMENTS` segments. STOP, START
and HELP are honoured here, before anything reaches the bot. WhatsApp allows free text
only within 24 hours of the customer's last message; later, an approved template is sent
when one is configured, and otherwise the reply is refused for good.

One job per module: `constants` (names and limits), `verify` (the signature over the exact
public URL), `parse` (form → `Message`/`Action`), `rules` (opt-out keywords, the WhatsApp
window, numbered choices), `segments` (GSM-7/UCS-2 segment arithmetic), `render` (`Reply` →
one text), `send` (the REST client and what its errors mean) and `channel` (`SmsChannel`,
joining them). Nothing is imported here, so importing one part does not load the others.
"""
