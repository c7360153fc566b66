"""Campaigns that are paused or cancelled hold their messages back in queueing's own table:
the claim no longer reads campaign rows."""

from django.db import migrations

HELD = ("paused", "cancelled")


def hold(apps, schema_editor):
    Campaign = apps.get_model("campaigns", "Campaign")
    HeldCampaign = apps.get_model("queueing", "HeldCampaign")
    HeldCampaign.objects.bulk_create(
        [
            HeldCampaign(campaign_id=pk, reason=status)
            for pk, status in Campaign.objects.filter(status__in=HELD).values_list("pk", "status")
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_templates_and_sending"),
        ("queueing", "0004_held_campaigns"),
    ]

    operations = [migrations.RunPython(hold, migrations.RunPython.noop)]
