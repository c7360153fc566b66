"""Shared by the campaign commands: find a campaign by id, turn ValidationError into a
CommandError with the same words the admin shows."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from queueing.validation import describe_error


class CampaignCommand(BaseCommand):
    requires_system_checks = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("campaign_id", type=int, metavar="ID")

    def campaign(self, pk: int) -> Campaign:
        campaign = Campaign.objects.filter(pk=pk).first()
        if campaign is None:
            raise CommandError(f"No campaign with id {pk}.")
        return campaign


def command_error(exc: ValidationError) -> CommandError:
    return CommandError(describe_error(exc))
