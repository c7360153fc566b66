"""RQ entry points: a campaign id in, a service call out."""

from campaigns import fanout, services


def fanout_campaign(campaign_id: int) -> dict:
    return {"added": fanout.fanout_run(campaign_id=campaign_id)}


def start_scheduled_campaign(campaign_id: int) -> dict:
    return {"started": services.campaigns_start_due(campaign_id=campaign_id)}
