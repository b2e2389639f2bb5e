"""Server-rendered web pages: sign-in, the requester portal, and what they share."""
