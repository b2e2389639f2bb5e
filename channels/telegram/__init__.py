"""Telegram: Bot API updates in (webhook, or long polling without a public URL), HTML out.

python-telegram-bot is used as a typed client and parser only: Starlette owns the route and
the application's router owns the conversation. Buttons become inline keyboards whose
`callback_data` carries the action, the value and the card version; a click comes back as
an `Action` with the clicked message's id, so the reply edits that message in place.

Updates we do not handle (edits, inline queries, stickers, member changes) are answered
200 and ignored; an update PTB cannot parse is answered 200 and quarantined (logged and
counted), since Telegram would otherwise retry it for a day and hold back that chat's later
updates.

One job per module: `constants` (names and limits), `verify` (the secret header), `parse`
(update → `Message`/`Action`), `callback_data` (what a button carries), `render` (`Reply` →
HTML and an inline keyboard), `send` (Bot API calls and what their errors mean), `polling`
(`getUpdates` transport) and `channel` (`TelegramChannel`, joining them). Nothing is
imported here, so importing one part does not load the others.
"""
