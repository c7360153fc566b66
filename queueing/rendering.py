"""Rendering at send time, for messages created without their final content (campaigns).

The campaigns app renders its own messages (frozen template + recipient data) through the
renderer it registers (queueing.hooks.register_renderer); queueing stores the result on the row
before the first call, so every later attempt sends the same bytes.
"""

from dataclasses import dataclass, field

from queueing import hooks
from queueing.hooks import NotEligible, RenderFailed
from queueing.models import Message


@dataclass
class RenderReport:
    rendered: list[Message] = field(default_factory=list)  # content set, not yet stored
    failed: dict[int, str] = field(default_factory=dict)
    not_eligible: dict[int, str] = field(default_factory=dict)
    over_budget: set[int] = field(default_factory=set)  # failed ones set aside by the budget


# What rendering sets on a row; claims stores it before the first call (freeze_batch,
# hold_alone), in the statement that also fixes how the message goes out.
CONTENT_COLUMNS = ("subject", "html", "text", "headers", "needs_render")


def content_values(message: Message) -> tuple:
    return tuple(getattr(message, column) for column in CONTENT_COLUMNS)


def render_pending(messages: list[Message]) -> RenderReport:
    """Render the messages that need it, in place (not yet in the database), with the
    registered renderer: `render(messages) -> {message id: RenderResult}`."""
    report = RenderReport()
    pending = [m for m in messages if m.needs_render]
    if not pending:
        return report
    render = hooks.renderer()
    if render is None:
        # A wiring fault of this process, not of the messages: fail the job (the lease
        # brings them back, to a worker that has the renderer), never the messages.
        raise RuntimeError(
            "messages need rendering but no renderer is registered (is the campaigns app "
            "in INSTALLED_APPS?)"
        )
    results = render(pending)
    for message in pending:
        content = results.get(message.pk, RenderFailed("the renderer returned nothing"))
        if isinstance(content, RenderFailed):
            report.failed[message.pk] = content.reason
            if content.over_budget:
                report.over_budget.add(message.pk)
            continue
        if isinstance(content, NotEligible):
            report.not_eligible[message.pk] = content.reason
            continue
        message.subject = content.subject
        message.html = content.html
        message.text = content.text
        message.headers = content.headers
        message.needs_render = False
        report.rendered.append(message)
    return report
