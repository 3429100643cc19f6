"""Email as a channel of the conversation (docs/email.md).

* ``smtp``: the SMTP URL and sending one message (aiosmtplib), failures sorted into permanent
  (5xx: recorded on the conversation) and passing (retried).
* ``words``: what the emails say, in the widget's languages.
* ``compose``: the emails themselves, pure: multipart text + HTML, visitor text escaped.
* ``addresses``: the signed reply address naming a conversation, and unsubscribe tokens.
* ``inbound``: a reply read back into the conversation (quotes and signatures stripped).
* ``listener``: the built-in SMTP listener (aiosmtpd) for replies.
* ``worker``: sends the outbox and reads the inbound queue, in every process, claiming jobs.
"""
