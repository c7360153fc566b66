"""Rendering at send time, for messages created without their final content (campaigns).

The campaigns app renders its own messages (frozen template + recipient data); queueing stores
the result on the row before the first call, so every later attempt sends the same bytes.
"""

from django.db import transaction

from queueing.models import Message


def render_pending(messages: list[Message]) -> dict[int, str]:
    """Render the messages that need it, in place and in the database; returns the errors
    (message id → reason) of those that could not be rendered."""
    pending = [m for m in messages if m.needs_render]
    if not pending:
        return {}
    from campaigns.rendering import render_messages

    results = render_messages(pending)
    errors = {pk: r for pk, r in results.items() if isinstance(r, str)}
    rendered = []
    for message in pending:
        content = results.get(message.pk)
        if content is None or isinstance(content, str):
            continue
        message.subject = content.subject
        message.html = content.html
        message.text = content.text
        message.headers = content.headers
        message.needs_render = False
        rendered.append(message)
    with transaction.atomic():
        Message.objects.bulk_update(
            rendered, ["subject", "html", "text", "headers", "needs_render"], batch_size=100
        )
    return errors
