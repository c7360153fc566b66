"""Everything in mailhub that speaks Resend, both ways.

- `limits`: the numbers Resend enforces (batch size, recipients per field, key length).
- the outbound client, the request body built from a stored message, and the mapping of
  Resend's answers (status and error name together) to provider-neutral outcomes;
- Resend's request rules (field shapes, error names and bodies, idempotency), as plain
  Django-free code shared by the sandbox and the HTTP API.

No other product module imports the `resend` SDK or spells a Resend error name.
"""
