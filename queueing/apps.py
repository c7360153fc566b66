from django.apps import AppConfig


class QueueingConfig(AppConfig):
    name = "queueing"
    verbose_name = "Messages and queue"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: these modules use the models.
        from queueing import hooks
        from queueing.api_idempotency import idempotency_keys_purge
        from queueing.forwarding.listener import forward_events
        from queueing.forwarding.reconcile import webhook_deliveries_reconcile
        from queueing.retention.periodic import periodic_purge

        hooks.register_reconcile_step("api_idempotency_keys", idempotency_keys_purge)
        # Events of API keys' messages, forwarded to the keys' own webhook endpoints.
        hooks.register_event_listener("webhook_forwarding", forward_events)
        hooks.register_reconcile_step("webhook_deliveries", webhook_deliveries_reconcile)
        # Retention (docs/OPERATIONS.md): at most once per MAILHUB_PURGE_INTERVAL, fleet-wide.
        hooks.register_reconcile_step("retention", periodic_purge)
