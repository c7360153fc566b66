from django.core.exceptions import ValidationError

from campaigns.management.commands._base import CampaignCommand, command_error
from campaigns.services import campaign_resume


class Command(CampaignCommand):
    help = "Resume a paused campaign where it stopped."

    def handle(self, *args, campaign_id: int, **options) -> None:
        try:
            campaign_resume(campaign=self.campaign(campaign_id))
        except ValidationError as exc:
            raise command_error(exc) from exc
        self.stdout.write(f"Campaign {campaign_id} resumed.")
