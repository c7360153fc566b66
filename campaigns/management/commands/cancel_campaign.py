from django.core.exceptions import ValidationError

from campaigns.management.commands._base import CampaignCommand, command_error
from campaigns.services import campaign_cancel


class Command(CampaignCommand):
    help = "Cancel a campaign: unsent messages are cancelled (frozen batches still finish)."

    def handle(self, *args, campaign_id: int, **options) -> None:
        try:
            count = campaign_cancel(campaign=self.campaign(campaign_id))
        except ValidationError as exc:
            raise command_error(exc) from exc
        self.stdout.write(f"Campaign {campaign_id} cancelled; {count} unsent messages cancelled.")
