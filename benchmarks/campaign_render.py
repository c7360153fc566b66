"""What rendering one campaign message costs, stage by stage (the worker does this per email).

    python benchmarks/campaign_render.py [--recipients 2000]

Django template render of the MJML source, MJML → HTML compile (mjml-python), text version,
unsubscribe links and headers; plus the whole `render_messages` call as the worker makes it
(including its eligibility query), per batch of 100.
"""

import argparse
import time

from harness import free_port, prepare


def per_item_us(func, items) -> float:
    started = time.perf_counter()
    for item in items:
        func(item)
    return 1e6 * (time.perf_counter() - started) / len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=2000)
    args = parser.parse_args()
    prepare(sandbox_port=free_port())
    from email.utils import parseaddr

    from campaign_seed import clear_messages, machine, make_campaign, seed_audience
    from django.core.management import call_command
    from django.template import Context, Template
    from mjml import mjml2html

    from campaigns import fanout
    from campaigns.rendering import (
        compiled_for,
        links_for,
        recipient_context,
        render_for,
        render_messages,
    )
    from campaigns.services import campaign_send
    from campaigns.templating import Attributes
    from queueing.addresses import bare_address
    from queueing.models import Message
    from recipients.models import Recipient
    from recipients.unsubscribe import list_unsubscribe_headers

    call_command("migrate", verbosity=0, interactive=False)
    lst, _ = seed_audience(args.recipients)
    clear_messages()
    campaign = make_campaign(lst)
    campaign_send(campaign=campaign)
    fanout.fanout_run(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    compiled = compiled_for(campaign)
    people = list(Recipient.objects.order_by("pk")[: args.recipients])
    links = links_for(lst)
    contexts = [recipient_context(p, campaign, lst, links=links)[0] for p in people]
    bodies = [compiled.body.render(Context(c)) for c in contexts]

    rows = [
        (
            "context (links, data)",
            per_item_us(lambda p: recipient_context(p, campaign, lst, links=links), people),
        ),
        (
            "Django render of MJML",
            per_item_us(lambda c: compiled.body.render(Context(c)), contexts),
        ),
        ("MJML → HTML compile", per_item_us(mjml2html, bodies)),
        (
            "subject + text render",
            per_item_us(
                lambda c: (
                    compiled.subject.render(Context(c, autoescape=False)),
                    compiled.text.render(Context(c, autoescape=False)),
                ),
                contexts,
            ),
        ),
        (
            "one render of all three",
            per_item_us(lambda c: compiled.whole.render(Context(c)), contexts),
        ),
        (
            "List-Unsubscribe by reverse()",
            per_item_us(lambda p: list_unsubscribe_headers(p, lst), people),
        ),
        (
            "render_for (all of it)",
            per_item_us(lambda p: render_for(compiled, p, campaign, lst, links=links), people),
        ),
    ]
    # Two small costs the render path avoids: dir() of a plain dict on every missing
    # attribute (Django's lookup calls it; campaigns.templating.Attributes makes it empty),
    # and email.utils.parseaddr on plain addresses (recipients.selectors.bare_address).
    missing = Template("{% if recipient.attributes.plan %}x{% endif %}")
    plain_dict = [{"recipient": {"attributes": {}}}] * len(people)
    attributes = [{"recipient": {"attributes": Attributes()}}] * len(people)
    addresses = [p.email for p in people]
    rows += [
        ("missing attribute, dict", per_item_us(lambda c: missing.render(Context(c)), plain_dict)),
        (
            "missing attribute, Attributes",
            per_item_us(lambda c: missing.render(Context(c)), attributes),
        ),
        ("address by parseaddr", per_item_us(parseaddr, addresses)),
        ("address by bare_address", per_item_us(bare_address, addresses)),
    ]
    messages = list(Message.objects.filter(campaign=campaign).order_by("pk"))
    batches = [messages[i : i + 100] for i in range(0, len(messages), 100)]
    batch_us = per_item_us(render_messages, batches)
    print(f"machine                      {machine()}")
    print(f"MJML source / compiled HTML  {len(bodies[0]):,} / {len(mjml2html(bodies[0])):,} bytes")
    for name, us in rows:
        print(f"{name:<28} {us:8.0f} µs per recipient")
    print(
        f"{'render_messages, batch 100':<28} {batch_us / 100:8.0f} µs per message (with its queries)"
    )


if __name__ == "__main__":
    main()
