from django.apps import AppConfig


class RecipientsConfig(AppConfig):
    name = "recipients"
    verbose_name = "Recipients"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: these modules use the models.
        from queueing import hooks
        from recipients.event_rules import provider_events_apply
        from recipients.imports.reconcile import import_runs_reconcile
        from recipients.selectors import suppressed_addresses
        from recipients.soft_bounces import soft_bounces_purge

        hooks.register_address_filter("suppressions", suppressed_addresses)
        hooks.register_reconcile_step("imports", import_runs_reconcile)
        hooks.register_reconcile_step("soft_bounces", soft_bounces_purge)
        hooks.register_event_listener("suppression_rules", provider_events_apply)
