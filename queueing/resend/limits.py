"""The numbers Resend enforces on a send request (see Resend's OpenAPI description)."""

# /emails/batch carries 1 to 100 emails, and no attachments or scheduled_at.
MAX_BATCH_SIZE = 100
BATCH_ALLOWS_ATTACHMENTS = False
# `to` is a string or 1 to 50 addresses; cc and bcc take up to 50 each.
MAX_RECIPIENTS = 50
# The Idempotency-Key header: 1 to 256 characters; Resend keeps a key for 24 hours.
MAX_IDEMPOTENCY_KEY_LENGTH = 256
IDEMPOTENCY_KEY_HOURS = 24
# A tag's name and its value: 1 to 256 ASCII letters, digits, underscores or dashes each.
MAX_TAG_LENGTH = 256
# One email, attachments included after base64 encoding: 40 MB (Resend's documentation).
# Counted in decimal megabytes, the smaller reading.
MAX_EMAIL_BYTES = 40_000_000
