"""Meta: Facebook Messenger and Instagram messaging through one webhook and the Send API.

Both products share `GET|POST /meta/webhook` (the `object` of a delivery says which: `page`
for Messenger, `instagram` for Instagram) and the Graph API's `POST /me/messages`. People
are known by page-scoped ids (PSID, IGSID), the `messenger` and `instagram` identities of
the directory; each person has one conversation with the page, so a report and its ticket's
updates stay in the same thread.

Meta lets a page answer freely only within 24 hours of the person's last message. The
channel keeps that time per conversation (in the application's `PlatformStateStore`) and
holds a reply that falls outside the window until the person writes again, unless the
`HUMAN_AGENT` tag is allowed (`META_HUMAN_AGENT_TAG`) and the reply is a person's own
(`Reply.human`: an agent's answer, an incident lead's update), which extends it to seven
days; the bot's own notices never carry the tag.

Public comments on the page's Facebook posts and Instagram media (`feed` and `comments`
changes) arrive on the same webhook and are answered once, privately, through the Send API
(`recipient.comment_id`); later replies follow the window rules in the person's thread.

One job per module: `verify` (handshake and `X-Hub-Signature-256`), `fields` (checks of
body values), `parse` (messaging deliveries to the conversation model), `comments` (comment
changes to the model), `render` (a `Reply` as a Send API message, the public note under a
comment), `window` (the messaging-window policy), `private` (the one-private-reply-per-comment
mark), `state` (what the rules remember, and where older releases kept it), `send` (the
httpx client and its errors) and `channel` (the `MetaChannel` adapter).
This file imports nothing.
"""
