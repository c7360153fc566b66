from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class MailhubConfig(AppConfig):
    name = "mailhub"
    verbose_name = "mailhub"

    def ready(self) -> None:
        from mailhub import checks  # noqa: F401  (registers the system checks)
        from mailhub.postgres_timestamps import use_fast_timestamp_loader
        from mailhub.roles import sync_roles_after_migrate

        use_fast_timestamp_loader()
        # No sender: mailhub has no models, so post_migrate is never sent for it.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="mailhub.roles.sync")


class MailhubAdminConfig(AdminConfig):
    """Django's admin, with mailhub's site (header, dashboard) as `admin.site`."""

    default_site = "mailhub.admin_site.MailhubAdminSite"
