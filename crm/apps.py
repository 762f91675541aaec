from django.apps import AppConfig


class CRMConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Receivers only announce events; the engine matches them after commit.
        from crm import signals

        signals.connect()
