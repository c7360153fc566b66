"""Forwarding provider events to the services that send through the HTTP API.

A service that moves from Resend to mailhub keeps receiving the webhooks it used to get from
Resend: each API key may register webhook endpoints (`WebhookEndpoint`), and the events of
that key's own messages are POSTed to them in Resend's own payload shape, signed the Svix way
with the endpoint's own secret, retried with backoff for about a day.

- `models.py`: the endpoints and one `WebhookDelivery` row per event and endpoint;
- `endpoints.py`: making and changing endpoints (the secret is shown once);
- `listener.py`: the provider-event listener that writes deliveries inside the transaction
  that applied the events, and asks for a send on commit;
- `signing.py`: Svix's signature; `payload.py`: Resend's webhook body;
- `url_guard.py`, `http.py`: which URLs may be called (no private or loopback addresses,
  checked again on the address actually connected to) and the one POST, redirects never
  followed;
- `sending.py`: claim due deliveries, POST, record, back off; `enqueue.py`, `jobs.py`: the
  job on the `events` queue; `reconcile.py`: the reconciler step that asks for due retries.

Imports nothing at package level: queueing.models imports `models.py` from here.
"""
