from django.core.exceptions import ValidationError

from campaigns.management.commands._base import CampaignCommand, command_error
from campaigns.services import campaign_pause


class Command(CampaignCommand):
    help = "Pause a sending campaign: no new batch starts; queued messages wait."

    def handle(self, *args, campaign_id: int, **options) -> None:
        try:
            campaign_pause(campaign=self.campaign(campaign_id))
        except ValidationError as exc:
            raise command_error(exc) from exc
        self.stdout.write(f"Campaign {campaign_id} paused.")
