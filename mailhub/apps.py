from django.apps import AppConfig


class MailhubConfig(AppConfig):
    name = "mailhub"
    verbose_name = "mailhub"

    def ready(self) -> None:
        from mailhub import checks  # noqa: F401  (registers the system checks)
