from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: these modules use the models.
        from campaigns import receivers  # noqa: F401 (connects the counters to queueing's signal)
        from campaigns.api_templates import render_named_template
        from campaigns.event_stats import campaign_events_apply
        from campaigns.reconciler import reconcile_step
        from campaigns.rendering import render_messages
        from campaigns.selectors import campaign_names
        from queueing import hooks

        hooks.register_renderer(render_messages)
        hooks.register_reconcile_step("campaigns", reconcile_step)
        hooks.register_template_renderer(render_named_template)
        hooks.register_event_listener("campaigns.statistics", campaign_events_apply)
        hooks.register_campaign_names(campaign_names)
