from django.apps import AppConfig


class QueueingConfig(AppConfig):
    name = "queueing"
    verbose_name = "Messages and queue"

    def ready(self) -> None:
        # Imported here, once the app registry is ready: these modules use the models.
        from queueing import hooks
        from queueing.api_idempotency import idempotency_keys_purge

        hooks.register_reconcile_step("api_idempotency_keys", idempotency_keys_purge)
