"""The command line: create, send (dry run, no wait, follow), pause, resume, cancel."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Campaign
from tests.campaigns.conftest import MJML

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_create_prints_the_id_alone_on_the_last_line(tmp_path, make_list, subscribe):
    subscribe(make_list("news"), 3)
    make_list("offers")
    mjml = tmp_path / "mail.mjml"
    mjml.write_text(MJML)
    out = run(
        "create_campaign",
        "--name",
        "Spring",
        "--subject",
        "Hi {{ recipient.first_name }}",
        "--mjml-file",
        str(mjml),
        "--list",
        "news",
        "--list",
        "offers",
        "--from",
        "News <news@example.com>",
    )
    last = out.strip().splitlines()[-1]
    campaign = Campaign.objects.get(pk=int(last))
    assert (
        campaign.status == "draft" and campaign.template.subject == "Hi {{ recipient.first_name }}"
    )
    assert sorted(campaign.lists.values_list("slug", flat=True)) == ["news", "offers"]
    assert campaign.from_email == "News <news@example.com>"


def test_create_with_a_template_slug(template, make_list):
    make_list("news")
    out = run("create_campaign", "--name", "T", "--template", template.slug, "--list", "news")
    assert Campaign.objects.get(pk=int(out.splitlines()[-1])).template == template


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "nope", "--list", "news"], "No template"),
        (["--template", "newsletter", "--list", "nope"], "No list"),
        (
            ["--html-file", "/does/not/exist.html", "--subject", "x", "--list", "news"],
            "Cannot read",
        ),
        (["--html-file", "BAD", "--subject", "x", "--list", "news"], "syntax"),
        (["--html-file", "BAD", "--list", "news"], "--subject is required"),
        (["--template", "newsletter", "--list", "news", "--from", "a@evil.test"], "not allowed"),
        (["--template", "newsletter", "--list", "news", "--filter", "{bad"], "not valid JSON"),
    ],
)
def test_create_refuses_bad_input(args, message, template, make_list, tmp_path, settings):
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["example.com"]
    make_list("news")
    bad = tmp_path / "bad.html"
    bad.write_text("<p>{% if %}</p>")
    args = [str(bad) if a == "BAD" else a for a in args]
    with pytest.raises(CommandError, match=message):
        run("create_campaign", "--name", "X", *args)
    assert not Campaign.objects.exists()


def test_send_dry_run_no_wait_and_refusals(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 4)
    campaign = make_campaign([news])
    assert "would go to 4 recipients" in run("send_campaign", str(campaign.pk), "--dry-run")
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    with pytest.raises(CommandError, match="in the past"):
        run("send_campaign", str(campaign.pk), "--schedule", "2001-01-01T00:00+00:00")
    with pytest.raises(CommandError, match="no time zone"):
        run("send_campaign", str(campaign.pk), "--schedule", "2099-01-01T00:00")
    assert "sending to 4 recipients" in run("send_campaign", str(campaign.pk), "--no-wait")
    with pytest.raises(CommandError, match="never sent twice"):
        run("send_campaign", str(campaign.pk), "--no-wait")
    with pytest.raises(CommandError, match="No campaign with id 999"):
        run("send_campaign", "999")
    assert "paused" in run("pause_campaign", str(campaign.pk))
    with pytest.raises(CommandError, match="Cannot pause"):
        run("pause_campaign", str(campaign.pk))
    assert "resumed" in run("resume_campaign", str(campaign.pk))
    # No worker ran, so no fan-out either: nothing was queued, and now nothing ever will be.
    assert "0 unsent messages cancelled" in run("cancel_campaign", str(campaign.pk))
    with pytest.raises(CommandError, match="Cannot cancel"):
        run("cancel_campaign", str(campaign.pk))


def test_send_schedules(make_campaign, make_list, subscribe):
    news = make_list()
    subscribe(news, 1)
    campaign = make_campaign([news])
    assert "scheduled for 2099" in run(
        "send_campaign", str(campaign.pk), "--schedule", "2099-01-01T09:00+00:00"
    )
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"


@pytest.mark.slow
def test_send_follows_the_campaign_to_the_end(
    sandbox, start_worker, make_campaign, make_list, subscribe
):
    news = make_list()
    subscribe(news, 150)
    campaign = make_campaign([news])
    start_worker()
    out = run("send_campaign", str(campaign.pk), "--poll", "0.2")
    assert f"Campaign {campaign.pk} sent: 150 sent, 0 failed" in out
    assert len(sandbox.emails()) == 150
