"""python manage.py send_campaign ID [--schedule ISO_TIME] [--dry-run] [--no-wait]"""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from campaigns.management.commands._base import CampaignCommand, command_error
from campaigns.models import Campaign
from campaigns.selectors import campaign_progress
from campaigns.services import campaign_check_sendable, campaign_send

FINAL = (Campaign.Status.SENT, Campaign.Status.CANCELLED)


class Command(CampaignCommand):
    help = (
        "Send (or schedule) a campaign, never prompting, and follow it to the end with a "
        "progress bar. The fan-out and the sending run in the workers (`rqworker bulk`)."
    )

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--schedule", metavar="ISO_TIME", help="e.g. 2026-12-01T09:00+01:00")
        parser.add_argument("--dry-run", action="store_true", help="check and count; send nothing")
        parser.add_argument("--no-wait", action="store_true", help="return once it is started")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between updates")

    def handle(self, *args, campaign_id: int, **options) -> None:
        campaign = self.campaign(campaign_id)
        scheduled_at = _parse_time(options["schedule"]) if options["schedule"] else None
        try:
            if options["dry_run"]:
                plan = campaign_check_sendable(campaign, scheduled_at=scheduled_at)
                self.stdout.write(
                    f"Dry run: campaign {campaign.pk} would go to {plan.audience:,} recipients; nothing was sent."
                )
                return
            plan = campaign_send(campaign=campaign, scheduled_at=scheduled_at)
        except ValidationError as exc:
            raise command_error(exc) from exc
        if plan.scheduled_at:
            self.stdout.write(
                f"Campaign {campaign.pk} scheduled for {plan.scheduled_at.isoformat()} ({plan.audience:,} recipients now)."
            )
            return
        self.stdout.write(f"Campaign {campaign.pk} is sending to {plan.audience:,} recipients.")
        if options["no_wait"]:
            return
        self.follow(campaign, options["poll"])

    def follow(self, campaign: Campaign, poll: float) -> None:
        bar = tqdm(
            total=campaign.audience_size, unit="email", file=self.stderr._out, dynamic_ncols=True
        )
        try:
            while True:
                campaign.refresh_from_db()
                progress = campaign_progress(campaign)
                bar.total = progress.total
                bar.n = progress.done
                bar.set_postfix_str(f"{campaign.status}, sent {campaign.sent:,}", refresh=False)
                bar.refresh()
                if campaign.status in FINAL:
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            bar.close()
            raise CommandError(
                f"Stopped following; campaign {campaign.pk} goes on sending."
            ) from None
        bar.close()
        self.stdout.write(
            f"Campaign {campaign.pk} {campaign.status}: {campaign.sent:,} sent, {campaign.failed:,} failed, "
            f"{campaign.suppressed:,} suppressed, {campaign.cancelled:,} cancelled."
        )


def _parse_time(value: str):
    parsed = parse_datetime(value)
    if parsed is None:
        raise CommandError(f"--schedule {value!r} is not an ISO time, e.g. 2026-12-01T09:00+01:00.")
    if timezone.is_naive(parsed):
        raise CommandError(f"--schedule {value!r} has no time zone: add one, e.g. +00:00.")
    return parsed
