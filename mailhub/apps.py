from django.apps import AppConfig


class MailhubConfig(AppConfig):
    name = "mailhub"
    verbose_name = "mailhub"

    def ready(self) -> None:
        from mailhub import checks  # noqa: F401  (registers the system checks)
        from mailhub.postgres_timestamps import use_fast_timestamp_loader

        use_fast_timestamp_loader()
