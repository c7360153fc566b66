"""Who may read the dashboard and use each of its controls (roles: mailhub/roles.py)."""

from django.contrib.auth.models import AbstractBaseUser

READ = "queueing.view_message"  # every role reads (viewer, sender, manager)
PAUSE_SENDING = "queueing.pause_sending"  # pause and resume all sending: managers
RETRY = "queueing.retry_message"  # senders and managers
CAMPAIGN = "campaigns.send_campaign"  # pause, resume, cancel a campaign: senders, managers


def controls(user: AbstractBaseUser) -> dict[str, bool]:
    """What the page offers this user; each POST checks its permission again."""
    return {
        "pause_sending": user.has_perm(PAUSE_SENDING),
        "retry": user.has_perm(RETRY),
        "campaigns": user.has_perm(CAMPAIGN),
    }
